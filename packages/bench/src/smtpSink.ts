/**
 * Postfix's `smtp-sink` on a free loopback port for the length of a scope:
 * it accepts every message and throws it away, fast enough (one C process,
 * select loop) that the clients are what is measured.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { PlatformError } from "effect/PlatformError"
import * as ChildProcess from "effect/process/ChildProcess"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import { findTool, type PostfixToolMissing } from "./postfixTools.js"

export interface SmtpSink {
  readonly host: string
  readonly port: number
}

export class SinkNotReady extends Data.TaggedError("SinkNotReady")<{ readonly port: number; readonly reason: string }> {
  override get message() {
    return `smtp-sink on 127.0.0.1:${this.port} sent no 220 greeting within 5 seconds (${this.reason})`
  }
}

const host = "127.0.0.1"

/** A port nobody listens on right now (the kernel picks it). */
export const freePort: Effect.Effect<number> = Effect.callback<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, host, () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Connects once and reads up to the end of the greeting line. */
const greeting = (port: number): Effect.Effect<void, SinkNotReady> =>
  Effect.callback<void, SinkNotReady>((resume) => {
    const socket = Net.connect({ host, port })
    let received = ""
    const fail = (reason: string) => {
      socket.destroy()
      resume(Effect.fail(new SinkNotReady({ port, reason })))
    }
    socket.setEncoding("latin1")
    socket.on("data", (data: string) => {
      received += data
      if (!received.includes("\r\n")) return
      socket.end("QUIT\r\n")
      if (received.startsWith("220 ")) resume(Effect.void)
      else fail(`greeting: ${JSON.stringify(received.trim())}`)
    })
    socket.on("error", (error) => fail(error.message))
    return Effect.sync(() => socket.destroy())
  })

/**
 * Starts smtp-sink and waits (bounded) until it greets. The process is
 * killed when the scope closes.
 */
export const start: Effect.Effect<
  SmtpSink,
  PostfixToolMissing | SinkNotReady | PlatformError,
  ChildProcessSpawner | Scope.Scope
> = Effect.gen(function*() {
  const bin = yield* findTool("smtp-sink")
  const port = yield* freePort
  // As root smtp-sink insists on dropping privileges after binding.
  const privileges = process.getuid?.() === 0 ? ["-u", "nobody"] : []
  // backlog 1000: the connection-per-message cases open connections faster
  // than a short accept queue drains.
  const spawner = yield* ChildProcessSpawner
  // Killed when the scope closes. Its output is not read, so it goes nowhere a full pipe could stall it.
  yield* spawner.spawn(
    ChildProcess.make(bin, [...privileges, `${host}:${port}`, "1000"], { stdout: "ignore", stderr: "inherit" })
  )
  yield* greeting(port).pipe(
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeoutOrElse({
      duration: "5 seconds",
      orElse: () => Effect.fail(new SinkNotReady({ port, reason: "nothing listening" }))
    })
  )
  return { host, port }
})
