import * as Result from "effect/Result"
import * as fs from "node:fs"

/**
 * Reads `SMTP_CA` given as a file path. Configuration is read once, when the
 * layer is built, so a synchronous read costs nothing later; a CA bundle is
 * small, and a file far larger than any bundle is refused unread.
 *
 * @internal
 */
export const readCaFile = (path: string): Result.Result<string, string> => {
  try {
    const size = fs.statSync(path).size
    if (size > maxCaBytes) return Result.fail(`is ${size} bytes long, more than a CA bundle (${maxCaBytes} at most)`)
    return Result.succeed(fs.readFileSync(path, "utf8"))
  } catch (error) {
    const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined
    return Result.fail(
      code === "ENOENT"
        ? "does not exist"
        : code === "EACCES"
        ? "cannot be read (permission denied)"
        : code === "EISDIR"
        ? "is a directory, not a PEM file"
        : `cannot be read${code === undefined ? "" : ` (${code})`}`
    )
  }
}

/** Mozilla's whole root store is about 220 KB as PEM: 4 MiB leaves room for any private bundle. */
const maxCaBytes = 4 * 1024 * 1024
