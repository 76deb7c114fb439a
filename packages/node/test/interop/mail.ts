/**
 * What the interop tests send, and how they find and check what a real
 * server stored: each test marks its messages with a unique token, waits for
 * the files holding it in the server's Maildir (taking them away, as a mail
 * client would), and compares the original part byte for byte with the
 * content after the documented normalisation: every CRLF, lone CR and lone LF
 * becomes the server's line end (LF in an Exim, OpenSMTPD or Postfix Maildir;
 * CRLF as aiosmtpd received it), dot-stuffing is undone, and a missing final
 * line break is added. Everything a server adds (Return-Path, Received, ...)
 * sits above the original's first header line.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"

export const SENDER = "sender@localhost"
export const USER = "smtptest@localhost"
/** Refused at RCPT by every interop server (550). */
export const UNKNOWN = "nobody-here@localhost"
/** A UTF-8 local part the Exim and aiosmtpd set-ups accept (SMTPUTF8). */
export const UTF8_USER = "δοκιμή@localhost"

/** The first line of every message sent: where the original starts in a stored copy. */
const FIRST_HEADER = `From: effect-smtp interop <${SENDER}>`

export type LineEnd = "\n" | "\r\n"

export const uniqueToken = (label: string): string =>
  `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`

/**
 * Complete headers on purpose: a server adds a missing Date or Message-ID
 * among them, which would blur the comparison.
 */
export const headers = (token: string, options: { readonly to?: string; readonly subject?: string } = {}): string =>
  [
    FIRST_HEADER,
    `To: ${options.to ?? USER}`,
    `Subject: ${options.subject ?? `interop ${token}`}`,
    `Message-ID: <${token}@effect-smtp.test>`,
    "Date: Tue, 25 Nov 2025 07:00:00 +0000",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit"
  ].join("\r\n") + "\r\n\r\n"

export const plainBody = (token: string): string => `token ${token}\r\nA plain ASCII line.\r\nThe end.\r\n`

/**
 * Lines the client must dot-stuff (a lone dot among them, and dot lines that
 * only become lines once a lone LF or CR is normalised), every line break it
 * must normalise, 8-bit UTF-8, and no final line break.
 */
export const trickyBody = (token: string): string =>
  `token ${token}\r\n` +
  ".a line that starts with a dot\r\n" +
  "..and one with two\r\n" +
  ".\r\n" +
  "a lone LF\n.dot after the lone LF\n.\nagain\r\n" +
  "a lone CR\r.dot after the lone CR\r.\ragain\r\n" +
  "8-bit: Grüße, 日本語, ½ €\r\n" +
  "\ttab and trailing spaces   \r\n" +
  "\r\n" +
  "the last line has no line break"

const CR = 13
const LF = 10

/** `content` as a Maildir or aiosmtpd stores it (see the module comment). */
export const normalised = (content: string | Uint8Array, lineEnd: LineEnd): Buffer => {
  const input = typeof content === "string" ? Buffer.from(content, "utf8") : Buffer.from(content)
  const end = Buffer.from(lineEnd, "latin1")
  const parts: Array<Buffer> = []
  let from = 0
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]
    if (byte !== CR && byte !== LF) continue
    parts.push(input.subarray(from, i), end)
    if (byte === CR && input[i + 1] === LF) i++
    from = i + 1
  }
  parts.push(input.subarray(from))
  const last = input[input.length - 1]
  if (input.length > 0 && last !== CR && last !== LF) parts.push(end)
  return Buffer.concat(parts)
}

const describeAround = (bytes: Buffer, at: number) =>
  JSON.stringify(bytes.subarray(Math.max(0, at - 40), at + 40).toString("latin1"))

/** Equal bytes, or a failure that names the first difference instead of printing megabytes. */
export const expectSameBytes = (actual: Buffer, expected: Buffer, what: string): void => {
  if (actual.equals(expected)) return
  let at = 0
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++
  throw new Error(
    `${what}: ${actual.length} bytes stored, ${expected.length} expected; first difference at byte ${at}:\n` +
      `  stored:   ${describeAround(actual, at)}\n  expected: ${describeAround(expected, at)}`
  )
}

/**
 * Checks a stored copy against what was sent; returns what the server put
 * above the original (its trace headers).
 */
export const expectStoredCopy = (
  stored: Buffer,
  content: string | Uint8Array,
  lineEnd: LineEnd
): { readonly added: string } => {
  const marker = Buffer.from(FIRST_HEADER, "utf8")
  const after = stored.indexOf(Buffer.concat([Buffer.from(lineEnd, "latin1"), marker]))
  const start = stored.subarray(0, marker.length).equals(marker) ? 0 : after < 0 ? -1 : after + lineEnd.length
  if (start < 0) {
    throw new Error(`the original headers are not in the stored copy:\n${stored.subarray(0, 2000).toString("utf8")}`)
  }
  expectSameBytes(stored.subarray(start), normalised(content, lineEnd), "stored copy")
  return { added: stored.subarray(0, start).toString("utf8") }
}

export class StoredMailError extends Data.TaggedError("StoredMailError")<{
  readonly maildir: string
  readonly token: string
  readonly wanted: number
  readonly found: number
  readonly timeoutMs: number
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.cause !== undefined
      ? `Cannot read ${Path.join(this.maildir, "new")} (${String(this.cause)}): run the tests as root.`
      : `${this.found} of ${this.wanted} messages holding ${this.token} arrived in ${
        Path.join(this.maildir, "new")
      } within ${this.timeoutMs} ms: see the server's log (scripts/services/<server>.sh log).`
  }
}

const errorCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

/** Wall-clock pause: a real server delivers in real time, whatever clock the test runs on. */
const pause = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** The token is in the headers; 64 KiB of a file is enough to tell. */
const HEAD_BYTES = 64 * 1024

/**
 * The whole file when its head holds `token`, else `undefined` (also when it
 * vanished meanwhile: a parallel test took it).
 */
const readIfHolds = async (path: string, token: Buffer): Promise<Buffer | undefined> => {
  let handle: Fs.FileHandle
  try {
    handle = await Fs.open(path, "r")
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined
    throw error
  }
  try {
    const head = Buffer.alloc(HEAD_BYTES)
    const { bytesRead } = await handle.read(head, 0, HEAD_BYTES, 0)
    if (!head.subarray(0, bytesRead).includes(token)) return undefined
    return await handle.readFile()
  } finally {
    await handle.close()
  }
}

interface Scan {
  readonly seen: Set<string>
  readonly found: Array<Buffer>
}

/**
 * One pass over `new/`: every file not looked at before (older ones skipped
 * unread), until `wanted` are found.
 */
const scanOnce = async (dir: string, token: Buffer, since: number, scan: Scan, wanted: number): Promise<void> => {
  let names: Array<string>
  try {
    names = await Fs.readdir(dir)
  } catch (error) {
    if (errorCode(error) === "ENOENT") return
    throw error
  }
  for (const name of names.sort()) {
    if (scan.found.length >= wanted) return
    if (scan.seen.has(name)) continue
    scan.seen.add(name)
    const path = Path.join(dir, name)
    const stat = await Fs.stat(path).catch((error: unknown) => {
      if (errorCode(error) === "ENOENT") return undefined
      throw error
    })
    // Earlier runs' messages: never ours, and some are 20 MB.
    if (stat === undefined || stat.mtimeMs < since) continue
    const bytes = await readIfHolds(path, token)
    if (bytes === undefined) continue
    scan.found.push(bytes)
    // Taken, as a mail client would: the Maildir stays small across runs.
    await Fs.rm(path, { force: true })
  }
}

/**
 * Waits until `count` messages holding `token` are in `<maildir>/new`, takes
 * them out of it and returns their bytes (in no particular order). Only files
 * written after `since` (ms since the epoch; a little slack is added for the
 * file system's clock) are looked at.
 */
export const takeStored = (
  maildir: string,
  token: string,
  options: { readonly since: number; readonly count?: number; readonly timeoutMs?: number }
): Effect.Effect<Array<Buffer>, StoredMailError> => {
  const count = options.count ?? 1
  const timeoutMs = options.timeoutMs ?? 20_000
  const dir = Path.join(maildir, "new")
  const needle = Buffer.from(token, "utf8")
  const since = options.since - 2_000
  return Effect.gen(function*() {
    const scan: Scan = { seen: new Set(), found: [] }
    const deadline = Date.now() + timeoutMs
    while (true) {
      yield* Effect.tryPromise({
        try: () => scanOnce(dir, needle, since, scan, count),
        catch: (cause) =>
          new StoredMailError({ maildir, token, wanted: count, found: scan.found.length, timeoutMs, cause })
      })
      if (scan.found.length >= count) return scan.found
      if (Date.now() >= deadline) {
        return yield* new StoredMailError({ maildir, token, wanted: count, found: scan.found.length, timeoutMs })
      }
      yield* pause(50)
    }
  })
}

/** {@link takeStored} for one message. */
export const takeOneStored = (
  maildir: string,
  token: string,
  options: { readonly since: number; readonly timeoutMs?: number }
): Effect.Effect<Buffer, StoredMailError> =>
  Effect.flatMap(
    takeStored(maildir, token, { ...options, count: 1 }),
    ([first]) =>
      first === undefined ? Effect.die(new Error("takeStored returned fewer than asked")) : Effect.succeed(first)
  )

/**
 * That no message holding `token` arrives within `waitMs` (wall clock): for
 * sends that must leave nothing behind on the server.
 */
export const expectNothingStored = (
  maildir: string,
  token: string,
  options: { readonly since: number; readonly waitMs: number }
): Effect.Effect<void, StoredMailError> =>
  Effect.gen(function*() {
    yield* pause(options.waitMs)
    const scan: Scan = { seen: new Set(), found: [] }
    yield* Effect.tryPromise({
      try: () => scanOnce(Path.join(maildir, "new"), Buffer.from(token, "utf8"), options.since - 2_000, scan, Infinity),
      catch: (cause) => new StoredMailError({ maildir, token, wanted: 0, found: 0, timeoutMs: options.waitMs, cause })
    })
    const [first] = scan.found
    if (first !== undefined) {
      throw new Error(
        `the server stored ${scan.found.length} message(s) holding ${token}, expected none:\n` +
          first.subarray(0, 1500).toString("utf8")
      )
    }
  })

/**
 * A large message: headers, then lines of varied length (none near 998),
 * some starting with a dot, some with 8-bit UTF-8, a few ending in a lone LF.
 * Deterministic, so a failure reproduces.
 */
export const largeMessage = (token: string, targetBytes: number): Buffer => {
  const top = Buffer.from(headers(token) + `token ${token}\r\n`, "utf8")
  const parts: Array<Buffer> = [top]
  let size = top.length
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ.,;:-_"
  for (let line = 0; size < targetBytes; line++) {
    const length = 1 + ((line * 7919) % 180)
    let text = ""
    for (let i = 0; i < length; i++) text += alphabet[(line * 31 + i * 17) % alphabet.length]
    if (line % 7 === 0) text = "." + text
    if (line % 11 === 0) text += " Grüße 日本"
    const bytes = Buffer.from(text + (line % 13 === 0 ? "\n" : "\r\n"), "utf8")
    parts.push(bytes)
    size += bytes.length
  }
  parts.push(Buffer.from("the end\r\n", "utf8"))
  return Buffer.concat(parts)
}

/**
 * `bytes` as a stream of chunks of an odd size, so CRLF pairs and dot lines
 * fall across chunk boundaries.
 */
export const chunked = (bytes: Uint8Array, chunkSize = 65_521): Stream.Stream<Uint8Array> =>
  Stream.fromArray(
    Array.from({ length: Math.ceil(bytes.length / chunkSize) }, (_, i) =>
      bytes.subarray(i * chunkSize, (i + 1) * chunkSize))
  )
