/**
 * Interruption at a random point of a send, over real sockets to a server
 * that takes a few milliseconds per reply (so a random delay lands anywhere
 * from before the connect to after QUIT):
 * - the send's connection is closed (the server sees no open connection);
 * - the metrics say `cancelled` exactly where the spec says so: the client
 *   connect if it was interrupted during the connect; `send.*` if MAIL was
 *   written; `connection.duration` if the session was established;
 * - with a pool, an interrupted exchange's connection is retired, never
 *   handed to the next message; and a message interrupted before its MAIL
 *   was written must never be sent later behind the caller's back (a known
 *   bug of the pool today, pinned by a `fails` test below).
 */
import { SmtpClient, SmtpProtocol, SmtpTelemetry } from "@effect-smtp/client"
import { NodeSocket } from "@effect-smtp/node"
import { fc } from "@effect-smtp/test-utils/property"
import { MisbehavingServer } from "@effect-smtp/testing/node"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { capturingSocket } from "../utils/capturingSocket.js"
import { recorder } from "../utils/recordingMetrics.js"

const decoder = new TextDecoder("latin1")

const mailOf = (tag: string) => ({
  from: `${tag}@interrupt.test`,
  to: ["b@interrupt.test"],
  content: `Subject: ${tag}\r\n\r\nbody of ${tag}\r\n`
})

const cancelled = (outcome: { readonly _tag: string }) => outcome._tag === "Interrupted"

/** Where an interruption landed, to show the property reaches every phase. */
type Landed = "before connecting" | "during the connect" | "before MAIL" | "after MAIL" | "after delivery"

const runCase = (pool: boolean, delayMs: number, landed: Array<Landed>) =>
  Effect.gen(function*() {
    const server = yield* MisbehavingServer.make({ replyDelay: "3 millis" })
    const writes: Array<string> = []
    const metrics = recorder()
    const layer = SmtpClient.layer({
      host: "127.0.0.1",
      port: server.port,
      security: "none",
      timeout: "5 seconds",
      ...(pool ? { pool: { maxConnections: 1 } } : {})
    }).pipe(
      Layer.provide(SmtpProtocol.layer),
      Layer.provide(
        capturingSocket((data) => void writes.push(decoder.decode(data))).pipe(Layer.provide(NodeSocket.layer))
      ),
      Layer.provide(metrics.layer)
    )
    const wroteMail = (from: string) => writes.some((w) => w.startsWith(`MAIL FROM:<${from}>`))

    yield* Effect.gen(function*() {
      const victim = mailOf("victim")
      const fiber = yield* Effect.forkChild(SmtpClient.send(victim))
      yield* Effect.sleep(`${delayMs} millis`)
      yield* Fiber.interrupt(fiber)
      const exit = yield* Fiber.await(fiber)
      const interrupted = Exit.hasInterrupts(exit)
      const mailWritten = wroteMail(victim.from)

      if (!pool) {
        // Its connection is closed, whatever the point of interruption.
        expect(yield* server.awaitOpenConnections(0)).toBe(0)
        const connects = metrics.clientConnect()
        const sends = metrics.messageSend()
        const ends = metrics.connectionEnd()
        expect(connects.length).toBeLessThanOrEqual(1)
        const connected = connects.length === 1 && connects[0]!.outcome._tag === "Success"
        if (connects.length === 1 && !connected) {
          // Interrupted during the connect: recorded as cancelled, and nothing else.
          expect(SmtpTelemetry.clientAttributes(connects[0]!)["error.type"]).toBe(SmtpTelemetry.cancelled)
          expect(sends).toEqual([])
          expect(ends).toEqual([])
        }
        // The transaction finished before the interruption arrived (it then
        // cut QUIT short, which is still a deliberate close).
        const delivered = sends.length === 1 && sends[0]!.outcome._tag === "Success"
        if (connected) {
          // An established session always ends in connection.duration: cancelled when interrupted.
          expect(ends).toHaveLength(1)
          expect(cancelled(ends[0]!.outcome)).toBe(interrupted && !delivered)
        }
        // send.*: recorded when MAIL was written, as cancelled when the send was interrupted.
        if (mailWritten) {
          expect(sends).toHaveLength(1)
          expect(SmtpTelemetry.clientAttributes(sends[0]!)["error.type"]).toBe(
            interrupted && !delivered ? SmtpTelemetry.cancelled : undefined
          )
        }
        if (!connected) expect(sends).toEqual([])
        if (!interrupted) expect(Exit.isSuccess(exit)).toBe(true)
        landed.push(
          connects.length === 0
            ? "before connecting"
            : !connected
            ? "during the connect"
            : delivered || !interrupted
            ? "after delivery"
            : mailWritten
            ? "after MAIL"
            : "before MAIL"
        )
        return
      }

      // With a pool: an exchange cut short retires its connection...
      if (interrupted && mailWritten) {
        expect(yield* server.awaitOpenConnections(0)).toBe(0)
        expect(metrics.connectionEnd().map((e) => cancelled(e.outcome))).toEqual([true])
      }
      // The next message is served, on a fresh connection when the old one was retired.
      const before = yield* server.acceptedConnections
      const next = yield* SmtpClient.send(mailOf("next"))
      expect(next.accepted).toEqual(["b@interrupt.test"])
      const stored = (yield* server.messages).map((m) => m.from)
      expect(stored).toContain("next@interrupt.test")
      if (interrupted && mailWritten) {
        expect(yield* server.acceptedConnections).toBe(before + 1)
        expect((yield* server.messages).at(-1)!.connection).toBe(before + 1)
      }
    }).pipe(Effect.provide(layer))

    // Nothing outlives the client.
    expect(yield* server.awaitOpenConnections(0)).toBe(0)
  }).pipe(Effect.scoped)

/** Delays from "before anything" to "after QUIT" (about 25 ms of replies). */
const delays = fc.integer({ min: 0, max: 40 })

describe("interruption at a random point", () => {
  for (const pool of [false, true]) {
    it.live(
      `property: ${pool ? "with a pool" : "one connection per send"}, the connection is closed and cancelled recorded`,
      () =>
        Effect.gen(function*() {
          const run = Effect.runPromiseWith(yield* Effect.context<never>())
          const landed: Array<Landed> = []
          yield* Effect.promise(() =>
            fc.assert(fc.asyncProperty(delays, (delayMs) => run(runCase(pool, delayMs, landed))), {
              numRuns: 60
            })
          )
          if (!pool) {
            // The random delays reached the phases where the spec says what to record.
            expect(landed).toContain("during the connect")
            expect(landed).toContain("after MAIL")
          }
        }),
      { timeout: 60_000 }
    )
  }
})

describe("interruption with a pool", () => {
  // A caller interrupted while its pooled connection is being opened must not
  // have its message sent afterwards: told it was not sent, it may send again.
  it.live("a send interrupted while its pooled connection opens is never sent afterwards", () =>
    Effect.gen(function*() {
      const server = yield* MisbehavingServer.make({ replyDelay: "20 millis" })
      const writes: Array<string> = []
      const layer = SmtpClient.layer({
        host: "127.0.0.1",
        port: server.port,
        security: "none",
        timeout: "5 seconds",
        pool: { maxConnections: 1 }
      }).pipe(
        Layer.provide(SmtpProtocol.layer),
        Layer.provide(
          capturingSocket((data) => void writes.push(decoder.decode(data))).pipe(Layer.provide(NodeSocket.layer))
        ),
        Layer.provide(recorder().layer)
      )
      yield* Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(SmtpClient.send(mailOf("victim")))
        // Interrupted once the TCP connection exists, while the greeting is still on its way.
        expect(yield* server.awaitOpenConnections(1)).toBe(1)
        yield* Fiber.interrupt(fiber)
        yield* Effect.sleep("300 millis")
        expect(writes.filter((w) => w.startsWith("MAIL FROM:<victim@"))).toEqual([])
        expect((yield* server.messages).map((m) => m.from)).not.toContain("victim@interrupt.test")
      }).pipe(Effect.provide(layer))
    }))
})
