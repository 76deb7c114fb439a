/**
 * A pool whose connections the server drops: an idle connection the server
 * closes, resets or says goodbye on leaves the pool at once; a send that fails
 * on a reused connection before any of its message went out goes once more on
 * a fresh one (one send in telemetry); connections older than `maxAge` are
 * replaced. All on the in-memory engine, with the TestClock.
 */
import {
  type ConnectionEndEvent,
  type MessageSendEvent,
  SmtpClient,
  type SmtpError,
  SmtpMetrics,
  SmtpProtocol
} from "@effect-smtp/client"
import { TestServer, TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
import { untilSleeping } from "./utils/clock.js"
import { recordingTracer } from "./utils/tracer.js"

interface Recorded {
  readonly ends: Array<ConnectionEndEvent>
  readonly sends: Array<MessageSendEvent>
}

const recordingMetrics = (recorded: Recorded): Layer.Layer<SmtpMetrics> =>
  Layer.succeed(SmtpMetrics, {
    socketConnect: () => Effect.void,
    clientConnect: () => Effect.void,
    connectionEnd: (event) => Effect.sync(() => recorded.ends.push(event)),
    messageSend: (event) => Effect.sync(() => recorded.sends.push(event))
  })

const pooled = (
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  pool: Exclude<SmtpClient.Options["pool"], true | undefined>,
  recorded: Recorded = { ends: [], sends: [] }
) =>
  SmtpClient.layer({ host: "mail.test", port: 25, security: "none", pool }).pipe(
    Layer.provide(SmtpProtocol.layer),
    Layer.provide(TestSocket.layer(script)),
    Layer.provide(recordingMetrics(recorded))
  )

const message = (i: number) => ({
  from: "a@example.com",
  to: [`r${i}@example.com`],
  content: `Subject: ${i}\r\n\r\nbody ${i}\r\n`
})

/** Connections the server saw, each with its MAIL commands. */
const mailsPerConnection = (server: TestSocket.SmtpServer) =>
  server.connections().map((c) => c.commands.filter((line) => line.startsWith("MAIL")).length)

/** Lets the pool's fibers and the in-memory server run until `done` holds. */
const until = (done: () => boolean): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let turn = 0; turn < 1000 && !done(); turn++) yield* Effect.yieldNow
    expect(done()).toBe(true)
  })

describe("pool: connections the server drops", () => {
  it.effect("an idle connection the server times out (421, then the end) leaves the pool at once; the next send opens a fresh one", () =>
    Effect.gen(function*() {
      const recorded: Recorded = { ends: [], sends: [] }
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"], idleTimeout: Duration.seconds(1) })
      yield* Effect.gen(function*() {
        yield* SmtpClient.send(message(0))
        yield* untilSleeping()
        yield* TestClock.adjust(Duration.millis(1500))
        // Closed by the pool as soon as the server said goodbye, before any send needed it.
        yield* until(() => recorded.ends.length === 1)
        const ended = recorded.ends[0].outcome
        expect(ended._tag).toBe("Failure")
        if (ended._tag === "Failure") expect(ended.error._tag).toBe("SocketError")
        const second = yield* SmtpClient.send(message(1))
        expect(second.accepted).toEqual(["r1@example.com"])
      }).pipe(Effect.provide(pooled(server.script, { maxConnections: 1, idleTimeToLive: "60 seconds" }, recorded)))
      // The second message went on a second connection; the first never saw another MAIL.
      expect(mailsPerConnection(server)).toEqual([1, 1])
      expect(recorded.sends.map((s) => s.outcome._tag)).toEqual(["Success", "Success"])
    }))

  it.effect("an idle connection the server resets leaves the pool at once, and every pooled one does", () =>
    Effect.gen(function*() {
      const recorded: Recorded = { ends: [], sends: [] }
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
      // Each connection is reset two seconds after it opened, whatever it is doing then.
      const resetting = (side: TestSocket.ServerSide) =>
        Effect.raceFirst(server.script(side), Effect.andThen(Effect.sleep(Duration.seconds(2)), side.reset))
      yield* Effect.gen(function*() {
        const first = yield* Effect.forEach([0, 1, 2, 3], (i) => SmtpClient.send(message(i)), { concurrency: 4 })
        expect(first).toHaveLength(4)
        const opened = server.connections().length
        yield* untilSleeping()
        yield* TestClock.adjust(Duration.seconds(3))
        yield* until(() => recorded.ends.length === opened)
        expect(recorded.ends.every((e) => e.outcome._tag === "Failure")).toBe(true)
        const again = yield* Effect.forEach([4, 5, 6, 7], (i) => SmtpClient.send(message(i)), { concurrency: 4 })
        expect(again.map((r) => r.accepted.length)).toEqual([1, 1, 1, 1])
      }).pipe(Effect.provide(pooled(resetting, { maxConnections: 4, idleTimeToLive: "60 seconds" }, recorded)))
      expect(server.received).toHaveLength(8)
      expect(recorded.sends).toHaveLength(8)
      expect(recorded.sends.every((s) => s.outcome._tag === "Success")).toBe(true)
    }))

  it.effect("a 421 to MAIL on a reused connection: the send goes once more on a fresh connection, one send in telemetry, the first failure an event on its span", () =>
    Effect.gen(function*() {
      const recorded: Recorded = { ends: [], sends: [] }
      // The first connection's second MAIL is answered 421 (the server is about to drop it), then closed.
      let mails = 0
      const server = TestSocket.smtpServer({
        capabilities: ["PIPELINING"],
        faults: (context) =>
          context.connection === 1 && context.stage === "mail" && ++mails === 2
            ? TestServer.reply("421 4.4.2 mail.test idle timeout, closing", { close: true })
            : undefined
      })
      const { spans, tracer } = recordingTracer()
      const results = yield* Effect.gen(function*() {
        const a = yield* SmtpClient.send(message(0))
        const b = yield* SmtpClient.send(message(1))
        return [a, b]
      }).pipe(
        Effect.provide(pooled(server.script, { maxConnections: 1 }, recorded)),
        Effect.withTracer(tracer)
      )
      expect(results.map((r) => r.accepted)).toEqual([["r0@example.com"], ["r1@example.com"]])
      expect(mailsPerConnection(server)).toEqual([2, 1])
      expect(server.received.map((m) => m.to)).toEqual([["r0@example.com"], ["r1@example.com"]])
      expect(recorded.sends.map((s) => s.outcome._tag)).toEqual(["Success", "Success"])
      const sendSpans = spans.filter((s) => s.events.length > 0 || s.name.toLowerCase().includes("send"))
      expect(sendSpans).toHaveLength(2)
      expect(sendSpans[0].events).toEqual([])
      expect(sendSpans[1].events).toEqual([{
        name: "smtp.send.retry",
        attributes: {
          "error.type": "SmtpCommandError",
          "smtp.retry.reason": "the reused connection failed before the message was sent"
        }
      }])
      expect(sendSpans[1].status._tag === "Ended" && Exit.isSuccess(sendSpans[1].status.exit)).toBe(true)
    }))

  it.effect("goes again only once: a 421 on the fresh connection too fails the send with it", () =>
    Effect.gen(function*() {
      let mails = 0
      const server = TestSocket.smtpServer({
        capabilities: ["PIPELINING"],
        faults: (context) =>
          context.stage === "mail" && ++mails >= 2
            ? TestServer.reply("421 4.3.2 mail.test shutting down", { close: true })
            : undefined
      })
      const second = yield* Effect.gen(function*() {
        yield* SmtpClient.send(message(0))
        return yield* Effect.result(SmtpClient.send(message(1)))
      }).pipe(Effect.provide(pooled(server.script, { maxConnections: 1 })))
      expect(second._tag).toBe("Failure")
      if (second._tag === "Failure") expect((second.failure as SmtpError.SmtpCommandError).statusCode).toBe(421)
      expect(mailsPerConnection(server)).toEqual([2, 1])
    }))

  it.effect("never goes again once the message went out: a reset after the end of the message stays DeliveryUnknownError", () =>
    Effect.gen(function*() {
      let ends = 0
      const server = TestSocket.smtpServer({
        capabilities: ["PIPELINING"],
        faults: (context) => context.stage === "end" && ++ends === 2 ? TestServer.reset : undefined
      })
      const second = yield* Effect.gen(function*() {
        yield* SmtpClient.send(message(0))
        return yield* Effect.result(SmtpClient.send(message(1)))
      }).pipe(Effect.provide(pooled(server.script, { maxConnections: 1 })))
      expect(second._tag).toBe("Failure")
      if (second._tag === "Failure") expect(second.failure._tag).toBe("DeliveryUnknownError")
      // No second connection, no second copy.
      expect(server.connections()).toHaveLength(1)
    }))

  it.effect("never goes again once the body began: a reset mid-body on a reused connection fails the send, nothing sent twice", () =>
    Effect.gen(function*() {
      let bodies = 0
      const server = TestSocket.smtpServer({
        capabilities: ["PIPELINING"],
        faults: (context) => context.stage === "body" && ++bodies === 2 ? TestServer.reset : undefined
      })
      const encoder = new TextEncoder()
      // The body's second half comes a second later, after the server reset the connection.
      const content = Stream.concat(
        Stream.make(encoder.encode("Subject: 1\r\n\r\nfirst half\r\n")),
        Stream.fromEffect(Effect.as(Effect.sleep(Duration.seconds(1)), encoder.encode("second half\r\n")))
      )
      const second = yield* Effect.gen(function*() {
        yield* SmtpClient.send(message(0))
        const fiber = yield* Effect.forkChild(
          Effect.result(SmtpClient.send({ from: "a@example.com", to: ["r1@example.com"], content }))
        )
        yield* untilSleeping(fiber)
        yield* TestClock.adjust(Duration.seconds(1))
        return yield* Fiber.join(fiber)
      }).pipe(Effect.provide(pooled(server.script, { maxConnections: 1 })))
      expect(second._tag).toBe("Failure")
      if (second._tag === "Failure") expect(second.failure._tag).toBe("SocketError")
      expect(server.connections()).toHaveLength(1)
      expect(server.received).toHaveLength(1)
    }))

  it.effect("never goes again on a connection it just opened: no `retry`, no second attempt", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({
        capabilities: ["PIPELINING"],
        faults: { mail: TestServer.reply("421 4.3.2 mail.test shutting down", { close: true }) }
      })
      const result = yield* Effect.result(SmtpClient.send(message(0))).pipe(
        Effect.provide(pooled(server.script, { maxConnections: 1 }))
      )
      expect(result._tag).toBe("Failure")
      expect(server.connections()).toHaveLength(1)
    }))

  it.effect("maxAge: a connection older than it is replaced when taken from idle, and closed with QUIT", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
      yield* Effect.gen(function*() {
        yield* SmtpClient.send(message(0))
        yield* untilSleeping()
        yield* TestClock.adjust(Duration.minutes(4))
        yield* SmtpClient.send(message(1))
        expect(server.connections()).toHaveLength(1)
        yield* untilSleeping()
        yield* TestClock.adjust(Duration.minutes(2))
        yield* SmtpClient.send(message(2))
        expect(server.connections()).toHaveLength(2)
      }).pipe(Effect.provide(pooled(server.script, {
        maxConnections: 1,
        maxAge: "5 minutes",
        idleTimeToLive: "1 hour",
        checkIdleAfter: "1 hour"
      })))
      expect(mailsPerConnection(server)).toEqual([2, 1])
      expect(server.connections()[0].commands.at(-1)).toBe("QUIT")
    }))

  it.effect("maxAge: a connection that grew too old during a send is closed when it comes back", () =>
    Effect.gen(function*() {
      // The second message's final reply takes 2 minutes: the connection is 6 minutes old when it comes back.
      let ends = 0
      const server = TestSocket.smtpServer({
        capabilities: ["PIPELINING"],
        faults: (context) =>
          context.stage === "end" && ++ends === 2 ? { _tag: "Delay", duration: Duration.minutes(2) } : undefined
      })
      const recorded: Recorded = { ends: [], sends: [] }
      yield* Effect.gen(function*() {
        yield* SmtpClient.send(message(0))
        yield* untilSleeping()
        yield* TestClock.adjust(Duration.minutes(4))
        const fiber = yield* Effect.forkChild(SmtpClient.send(message(1)))
        yield* untilSleeping(fiber)
        expect(recorded.ends).toHaveLength(0)
        yield* TestClock.adjust(Duration.minutes(2))
        yield* Fiber.join(fiber)
        // Closed on its return, with no send waiting for it, and cleanly (QUIT).
        yield* until(() => recorded.ends.length === 1)
        expect(recorded.ends[0].outcome._tag).toBe("Success")
      }).pipe(Effect.provide(pooled(server.script, {
        maxConnections: 1,
        maxAge: "5 minutes",
        idleTimeToLive: "1 hour",
        checkIdleAfter: "1 hour"
      }, recorded)))
      expect(mailsPerConnection(server)).toEqual([2])
      expect(server.connections()[0].commands.at(-1)).toBe("QUIT")
    }))
})
