/**
 * Postfix's C load generator. `-d` keeps the connection for the next message
 * (without it every message opens its own); `-s` runs that many sessions in
 * parallel, sharing `-m` messages. It does not pipeline. Timed from spawn to
 * exit, which adds the process start (a few milliseconds) to its run.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { PlatformError } from "effect/PlatformError"
import * as ChildProcess from "effect/process/ChildProcess"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import * as Stream from "effect/Stream"
import { findTool, type PostfixToolMissing } from "../postfixTools.js"

export interface Options {
  readonly host: string
  readonly port: number
  readonly from: string
  readonly to: string
  /** The size on the wire, headers included. */
  readonly size: number
  readonly count: number
  readonly sessions: number
}

export class SmtpSourceFailed extends Data.TaggedError("SmtpSourceFailed")<{
  readonly exitCode: number
  readonly stderr: string
}> {
  override get message() {
    return `smtp-source exited with ${this.exitCode}: ${this.stderr.trim()}`
  }
}

/**
 * `-l` counts only the body; with these -f/-t/-M its four header lines take
 * 148 bytes, so the message on the wire is `size` bytes like everyone else's.
 */
const headerBytes = 148

export const send = (
  options: Options
): Effect.Effect<void, SmtpSourceFailed | PostfixToolMissing | PlatformError, ChildProcessSpawner> =>
  Effect.gen(function*() {
    const bin = yield* findTool("smtp-source")
    const args = [
      "-d",
      "-s",
      String(options.sessions),
      "-m",
      String(options.count),
      "-l",
      String(Math.max(0, options.size - headerBytes)),
      "-f",
      options.from,
      "-t",
      options.to,
      "-M",
      "bench.local",
      `${options.host}:${options.port}`
    ]
    const spawner = yield* ChildProcessSpawner
    const child = yield* spawner.spawn(ChildProcess.make(bin, args))
    const [exitCode, stderr] = yield* Effect.all([
      child.exitCode,
      child.stderr.pipe(Stream.decodeText(), Stream.mkString),
      Stream.runDrain(child.stdout)
    ], { concurrency: "unbounded" })
    if (exitCode !== 0) return yield* new SmtpSourceFailed({ exitCode, stderr })
  }).pipe(Effect.scoped)
