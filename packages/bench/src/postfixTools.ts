/**
 * Where Postfix's test programs live. Debian puts them in /usr/sbin, which is
 * not on every user's PATH, so both are searched.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"

export class PostfixToolMissing extends Data.TaggedError("PostfixToolMissing")<{ readonly tool: string }> {
  override get message() {
    return `${this.tool} not found in /usr/sbin or on PATH: install Postfix (Debian/Ubuntu: ` +
      `apt-get install postfix; \`bash .ci/run\` does it as root)`
  }
}

const directories = (): Array<string> => [
  "/usr/sbin",
  "/usr/local/sbin",
  ...(process.env.PATH ?? "").split(Path.delimiter).filter((dir) => dir !== "")
]

export const findTool = (tool: "smtp-sink" | "smtp-source"): Effect.Effect<string, PostfixToolMissing> =>
  Effect.suspend(() => {
    for (const dir of directories()) {
      const candidate = Path.join(dir, tool)
      try {
        Fs.accessSync(candidate, Fs.constants.X_OK)
        return Effect.succeed(candidate)
      } catch {
        // not here; try the next directory
      }
    }
    return Effect.fail(new PostfixToolMissing({ tool }))
  })
