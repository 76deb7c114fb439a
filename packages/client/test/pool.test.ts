import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { effectProp, fc } from "@effect-smtp/test-utils/property"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/testing/TestClock"
import { lateFinalReply as late } from "./utils/servers.js"

const decoder = new TextDecoder()

interface Counters {
  open: number
  maxOpen: number
  connects: number
}

/**
 * The scripted server with its replies cut into random pieces, counting the
 * connections open at once.
 */
const countingServer = (
  counters: Counters,
  server: ReturnType<typeof TestSocket.smtpServer>,
  cuts: ReadonlyArray<number> = []
) =>
(side: TestSocket.ServerSide) => {
  let n = 0
  const splitting: TestSocket.ServerSide = {
    ...side,
    send: (data) =>
      Effect.gen(function*() {
        const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data
        let at = 0
        while (at < bytes.length) {
          const size = 1 + ((cuts[n++ % Math.max(1, cuts.length)] ?? bytes.length) % bytes.length)
          yield* side.send(bytes.subarray(at, at + size))
          at += size
        }
      })
  }
  return Effect.acquireUseRelease(
    Effect.sync(() => {
      counters.open++
      counters.connects++
      counters.maxOpen = Math.max(counters.maxOpen, counters.open)
    }),
    () => server.script(splitting),
    () =>
      Effect.sync(() => {
        counters.open--
      })
  )
}

const pooled = (
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  pool: SmtpClient.Options["pool"]
) => scriptedClient(script, { host: "mail.test", port: 25, security: "none", pool })

const message = (i: number) => ({
  from: "a@example.com",
  to: [`r${i}@example.com`],
  content: `Subject: ${i}\r\n\r\nbody ${i}\r\n.dot ${i}\r\n`
})

describe("pool", () => {
  effectProp(
    "never exceeds maxConnections under 100 concurrent sends, and every message arrives intact, with replies split anywhere",
    [
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 8 }),
      fc.boolean()
    ],
    ([maxConnections, cuts, pipelining]) =>
      Effect.gen(function*() {
        const counters: Counters = { open: 0, maxOpen: 0, connects: 0 }
        const server = TestSocket.smtpServer({
          capabilities: pipelining ? ["PIPELINING", "8BITMIME"] : ["8BITMIME"]
        })
        const results = yield* Effect.forEach(
          Array.from({ length: 100 }, (_, i) => i),
          (i) => SmtpClient.send(message(i)),
          { concurrency: 100 }
        ).pipe(Effect.provide(pooled(countingServer(counters, server, cuts), { maxConnections })))
        expect(results.every((r) => r.accepted.length === 1)).toBe(true)
        expect(counters.maxOpen).toBeLessThanOrEqual(maxConnections)
        expect(counters.open).toBe(0)
        expect(server.received).toHaveLength(100)
        const bodies = new Set(server.received.map((m) => decoder.decode(m.data)))
        for (let i = 0; i < 100; i++) expect(bodies.has(message(i).content)).toBe(true)
        // Each result belongs to its own message: replies were matched in order.
        results.forEach((r, i) => expect(r.accepted).toEqual([`r${i}@example.com`]))
      }),
    { fastCheck: { numRuns: 25 } }
  )

  it.effect("pipelines the next message's commands behind the previous body's final dot (RFC 2920 §3.1)", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
      yield* Effect.forEach([0, 1, 2, 3], (i) => SmtpClient.send(message(i)), { concurrency: 4 }).pipe(
        Effect.provide(pooled(server.script, { maxConnections: 1 }))
      )
      expect(server.commands.filter((c) => c.startsWith("EHLO"))).toHaveLength(1)
      expect(server.received).toHaveLength(4)
      // Three bodies had the next message's MAIL behind them in the same write.
      expect(server.pipelinedAfterBody()).toBe(3)
      expect(server.commands.filter((c) => c === "QUIT")).toHaveLength(1)
    }))

  it.effect("without PIPELINING the server never sees a command before its reply", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities: ["8BITMIME"] })
      yield* Effect.forEach([0, 1, 2, 3], (i) => SmtpClient.send(message(i)), { concurrency: 4 }).pipe(
        Effect.provide(pooled(server.script, { maxConnections: 1 }))
      )
      expect(server.received).toHaveLength(4)
      expect(server.pipelinedAfterBody()).toBe(0)
    }))

  it.effect("a mid-group error (one recipient refused, then MAIL refused) fails only its own message", () =>
    Effect.gen(function*() {
      const counters: Counters = { open: 0, maxOpen: 0, connects: 0 }
      const server = TestSocket.smtpServer({
        capabilities: ["PIPELINING"],
        rcpt: (address) => address.startsWith("r1@") ? "550 5.1.1 no" : undefined
      })
      const exits = yield* Effect.forEach(
        [0, 1, 2, 3],
        (i) => Effect.result(SmtpClient.send(message(i))),
        { concurrency: 4 }
      ).pipe(Effect.provide(pooled(countingServer(counters, server), { maxConnections: 1 })))
      expect(exits.map((e) => e._tag)).toEqual(["Success", "Failure", "Success", "Success"])
      const failure = exits[1]!
      if (failure._tag === "Failure") {
        expect(failure.failure).toBeInstanceOf(SmtpError.SmtpCommandError)
        expect((failure.failure as SmtpError.SmtpCommandError).statusCode).toBe(550)
      }
      // A failed transaction is reset, not a reason to reconnect.
      expect(counters.connects).toBe(1)
      expect(server.received.map((m) => m.to[0])).toEqual(["r0@example.com", "r2@example.com", "r3@example.com"])
    }))

  it.effect("a broken connection is never handed out again: the next send gets a fresh one", () =>
    Effect.gen(function*() {
      const counters: Counters = { open: 0, maxOpen: 0, connects: 0 }
      let connection = 0
      const script = (side: TestSocket.ServerSide) => {
        const first = ++connection === 1
        const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
        // The first connection answers 421 to MAIL: the server is going away.
        return first
          ? Effect.gen(function*() {
            yield* side.send("220 hi\r\n")
            yield* side.readLine
            yield* side.send("250 hi\r\n")
            yield* side.readLine
            yield* side.send("421 4.3.2 shutting down\r\n")
          })
          : countingServer(counters, server)(side)
      }
      const layer = pooled(script, { maxConnections: 1 })
      const [a, b] = yield* Effect.gen(function*() {
        const a = yield* Effect.result(SmtpClient.send(message(0)))
        const b = yield* Effect.result(SmtpClient.send(message(1)))
        return [a, b] as const
      }).pipe(Effect.provide(layer))
      expect(a._tag).toBe("Failure")
      if (a._tag === "Failure") expect((a.failure as SmtpError.SmtpCommandError).statusCode).toBe(421)
      expect(b._tag).toBe("Success")
      expect(connection).toBe(2)
    }))

  it.effect("retires a connection after maxMessagesPerConnection, with QUIT", () =>
    Effect.gen(function*() {
      const counters: Counters = { open: 0, maxOpen: 0, connects: 0 }
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
      yield* Effect.forEach([0, 1, 2, 3, 4], (i) => SmtpClient.send(message(i)), { concurrency: 5 }).pipe(
        Effect.provide(pooled(countingServer(counters, server), { maxConnections: 1, maxMessagesPerConnection: 2 }))
      )
      expect(counters.connects).toBe(3)
      expect(server.commands.filter((c) => c === "QUIT")).toHaveLength(3)
      expect(server.received).toHaveLength(5)
    }))

  it.effect("closes an idle connection after idleTimeToLive (TestClock), and checks with NOOP before reuse", () =>
    Effect.gen(function*() {
      const counters: Counters = { open: 0, maxOpen: 0, connects: 0 }
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
      yield* Effect.gen(function*() {
        yield* SmtpClient.send(message(0))
        yield* TestClock.adjust(Duration.seconds(6))
        yield* SmtpClient.send(message(1))
        expect(server.commands.filter((c) => c === "NOOP")).toHaveLength(1)
        expect(counters.connects).toBe(1)
        expect(counters.open).toBe(1)
        yield* TestClock.adjust(Duration.seconds(30))
        // The idle connection said goodbye and closed.
        yield* Effect.yieldNow
        expect(server.commands.at(-1)).toBe("QUIT")
      }).pipe(Effect.provide(pooled(countingServer(counters, server), { maxConnections: 1 })))
    }))

  it.effect("interrupting a pooled send closes its connection without QUIT; the next send reconnects", () =>
    Effect.gen(function*() {
      const counters: Counters = { open: 0, maxOpen: 0, connects: 0 }
      let connection = 0
      const script = (side: TestSocket.ServerSide) =>
        ++connection === 1
          ? Effect.gen(function*() {
            yield* side.send("220 hi\r\n")
            yield* side.readLine
            yield* side.send("250 hi\r\n")
            yield* Effect.never // never answers MAIL
          })
          : countingServer(counters, TestSocket.smtpServer())(side)
      yield* Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(SmtpClient.send(message(0)))
        yield* TestClock.adjust(Duration.seconds(1))
        yield* Fiber.interrupt(fiber)
        const result = yield* SmtpClient.send(message(1))
        expect(result.accepted).toEqual(["r1@example.com"])
        expect(connection).toBe(2)
      }).pipe(Effect.provide(pooled(script, { maxConnections: 1 })))
    }))

  it.effect("a send interrupted while its commands ride behind another body is never delivered; that connection is retired", () =>
    Effect.gen(function*() {
      const counters: Counters = { open: 0, maxOpen: 0, connects: 0 }
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
      // Each final reply comes a second late (TestClock): the second send then
      // waits in line with its MAIL, RCPT and DATA already on the wire.
      const lateFinalReply = countingServer(counters, {
        ...server,
        script: late(server.script, Duration.seconds(1))
      })
      yield* Effect.gen(function*() {
        const first = yield* Effect.forkChild(SmtpClient.send(message(0)))
        const second = yield* Effect.forkChild(SmtpClient.send(message(1)))
        yield* TestClock.adjust(Duration.millis(500))
        // The first body arrived with the second message's commands behind it.
        expect(server.pipelinedAfterBody()).toBe(1)
        yield* Fiber.interrupt(second)
        yield* TestClock.adjust(Duration.seconds(1))
        expect((yield* Fiber.join(first)).accepted).toEqual(["r0@example.com"])
        // The connection carried commands nobody would answer: it is not reused.
        const third = yield* Effect.forkChild(SmtpClient.send(message(2)))
        yield* TestClock.adjust(Duration.seconds(2))
        expect((yield* Fiber.join(third)).accepted).toEqual(["r2@example.com"])
        expect(counters.connects).toBe(2)
        expect(server.received.map((m) => m.to[0])).toEqual(["r0@example.com", "r2@example.com"])
      }).pipe(Effect.provide(pooled(lateFinalReply, { maxConnections: 1 })))
    }))
})
