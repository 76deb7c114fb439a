/**
 * The real Postfix that `scripts/services/postfix.sh start` runs: where it listens
 * and where it stores delivered mail.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"

export interface PostfixTarget {
  readonly host: string
  /** Offers CHUNKING, so the client sends the message with BDAT. */
  readonly port: number
  /** The same Postfix with CHUNKING hidden, so the client must use DATA. */
  readonly dataPort: number | undefined
  /** The test user's Maildir; Postfix puts each delivered message in `new/`. */
  readonly maildir: string
}

/** Why the Postfix tests did not run, and how to make them run. */
export const postfixSkipReason =
  "set EFFECT_SMTP_POSTFIX=127.0.0.1:2525, EFFECT_SMTP_POSTFIX_DATA=127.0.0.1:2526 and " +
  "EFFECT_SMTP_POSTFIX_MAILDIR=/home/smtptest/Maildir to run the real-MTA tests: " +
  "run `sudo scripts/services/postfix.sh start` (it prints these lines; .ci/run does this)"

const defaultMaildir = "/home/smtptest/Maildir"

const nonEmpty = (value: string | undefined): string | undefined => {
  const trimmed = value?.trim()
  return trimmed === undefined || trimmed === "" ? undefined : trimmed
}

const hostPort = (name: string, value: string): { readonly host: string; readonly port: number } => {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value)
  const port = match === null ? Number.NaN : Number(match[2])
  if (match === null || match[1] === undefined || !(port > 0 && port < 65536)) {
    const shown = JSON.stringify(value)
    throw new Error(`${name} must be host:port as printed by scripts/services/postfix.sh start, got ${shown}`)
  }
  return { host: match[1], port }
}

/**
 * Reads `EFFECT_SMTP_POSTFIX` ("host:port"), `EFFECT_SMTP_POSTFIX_DATA`
 * ("host:port", optional) and `EFFECT_SMTP_POSTFIX_MAILDIR`. `undefined` when
 * the first is unset, so the tests skip; a malformed value throws, so a
 * misconfigured CI fails instead of silently skipping.
 */
export const postfixTarget = (env: NodeJS.ProcessEnv = process.env): PostfixTarget | undefined => {
  const value = nonEmpty(env["EFFECT_SMTP_POSTFIX"])
  if (value === undefined) {
    return undefined
  }
  const { host, port } = hostPort("EFFECT_SMTP_POSTFIX", value)
  const data = nonEmpty(env["EFFECT_SMTP_POSTFIX_DATA"])
  const dataTarget = data === undefined ? undefined : hostPort("EFFECT_SMTP_POSTFIX_DATA", data)
  if (dataTarget !== undefined && dataTarget.host !== host) {
    throw new Error("EFFECT_SMTP_POSTFIX and EFFECT_SMTP_POSTFIX_DATA must name the same host (one Postfix instance)")
  }
  return {
    host,
    port,
    dataPort: dataTarget?.port,
    maildir: nonEmpty(env["EFFECT_SMTP_POSTFIX_MAILDIR"]) ?? defaultMaildir
  }
}

/** A predicate for {@link waitForDelivery}: the stored message contains `text` (UTF-8). */
export const includesText = (text: string) => (bytes: Uint8Array): boolean =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(text, 0, "utf8")

export class DeliveryError extends Data.TaggedError("DeliveryError")<{
  readonly maildir: string
  readonly reason: "Timeout" | "Unreadable"
  readonly timeoutMs: number
  readonly examined: number
  readonly cause?: unknown
}> {
  override get message(): string {
    const dir = Path.join(this.maildir, "new")
    const cause = String(this.cause)
    return this.reason === "Unreadable"
      ? `Cannot read ${dir} (${cause}): run the tests as root or as a user that can read the test user's Maildir.`
      : `No matching message arrived in ${dir} within ${this.timeoutMs} ms (${this.examined} other messages examined): ` +
        "check the Postfix log printed by `scripts/services/postfix.sh status` (maillog in the instance directory)."
  }
}

const errorCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

/** Resolves after `ms` of wall-clock time, whatever clock the test runs on. */
const pause = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/**
 * Polls `<maildir>/new` until a message for which `predicate` holds appears,
 * and returns its bytes (Postfix's copy: its own Return-Path, Delivered-To and
 * Received headers on top, LF line ends).
 *
 * Postfix writes into `tmp/` and renames into `new/`, so a file seen in `new/`
 * is complete and never changes: each is read once. The deadline is wall-clock
 * time on purpose (real delivery by a real MTA), so this works under `it.live`
 * and `it.effect` alike; it is bounded by `timeoutMs`.
 */
export const waitForDelivery = (
  maildir: string,
  predicate: (bytes: Uint8Array) => boolean,
  timeoutMs = 15_000
): Effect.Effect<Uint8Array, DeliveryError> =>
  Effect.gen(function*() {
    const dir = Path.join(maildir, "new")
    const seen = new Set<string>()
    const deadline = Date.now() + timeoutMs
    const unreadable = (cause: unknown) =>
      new DeliveryError({ maildir, reason: "Unreadable", timeoutMs, examined: seen.size, cause })

    while (true) {
      const names = yield* Effect.tryPromise({
        try: () => Fs.readdir(dir),
        catch: (cause) => cause
      }).pipe(
        // The Maildir appears with the first delivery.
        Effect.catch((cause) =>
          errorCode(cause) === "ENOENT" ? Effect.succeed<Array<string>>([]) : Effect.fail(unreadable(cause))
        )
      )
      for (const name of names.sort()) {
        if (seen.has(name)) continue
        seen.add(name)
        const bytes = yield* Effect.tryPromise({
          try: () => Fs.readFile(Path.join(dir, name)),
          catch: (cause) => cause
        }).pipe(
          // Someone moved it to cur/ meanwhile: not ours to wait for.
          Effect.catch((cause) =>
            errorCode(cause) === "ENOENT" ? Effect.succeed(undefined) : Effect.fail(unreadable(cause))
          )
        )
        if (bytes !== undefined && predicate(bytes)) {
          return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        }
      }
      if (Date.now() >= deadline) {
        return yield* new DeliveryError({ maildir, reason: "Timeout", timeoutMs, examined: seen.size })
      }
      yield* pause(50)
    }
  })
