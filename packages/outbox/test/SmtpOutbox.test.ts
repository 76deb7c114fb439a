import { SmtpError } from "@effect-smtp/client"
import { MailMessage } from "@effect-smtp/message"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
import { OutboxError, OutboxMetrics, SmtpOutbox } from "../src/index.js"
import { message, outbox, settle, tempDatabase } from "./utils/memory.js"

type Script = (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>

const decoder = new TextDecoder()
const encoder = new TextEncoder()

const statusOf = (service: SmtpOutbox.SmtpOutboxService, id: string) => Effect.andThen(settle, service.status(id))

/** Replies from a script: `reply(line)` answers a command, or undefined for the default server's answer. */
const replying =
  (server: ReturnType<typeof TestSocket.smtpServer>, reply: (line: string) => string | undefined) =>
  (side: TestSocket.ServerSide) =>
    server.script({
      ...side,
      send: (data) => {
        const replacement = typeof data === "string" ? reply(data) : undefined
        return side.send(replacement ?? data)
      }
    })

/** The final reply to the n-th message the server takes. */
const finalReplies = (server: ReturnType<typeof TestSocket.smtpServer>, replies: ReadonlyArray<string>) => {
  let n = 0
  return replying(server, (line) => line.startsWith("250 2.0.0 Ok") ? replies[n++] : undefined)
}

describe("SmtpOutbox", () => {
  it.effect("enqueue stores the message, returns its id, and it ends Sent with the client's result", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const { service } = yield* outbox(server.script)
      const id = yield* service.enqueue(message(1))
      const status = yield* statusOf(service, id)
      expect(status._tag).toBe("Sent")
      if (status._tag !== "Sent") return
      expect(status.attempts).toBe(1)
      expect(status.result.accepted).toEqual(["rcpt@example.com"])
      expect(status.result.queueId).toBe("TEST1")
      expect(status.result.messageId).toBe("<m1@example.com>")
      expect(server.received.map((m) => decoder.decode(m.data))).toEqual([message(1).content])
    }))

  it.effect("the same idempotency key enqueues once and returns the first id", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const { service } = yield* outbox(server.script)
      const first = yield* service.enqueue(message(1), { idempotencyKey: "order-42" })
      const second = yield* service.enqueue(message(2), { idempotencyKey: "order-42" })
      const other = yield* service.enqueue(message(3), { idempotencyKey: "order-43" })
      expect(second).toBe(first)
      expect(other).not.toBe(first)
      yield* settle
      expect(server.received.map((m) => decoder.decode(m.data)).sort()).toEqual(
        [message(1).content, message(3).content].sort()
      )
    }))

  it.effect("bad input is refused at enqueue with the client's InvalidInputError, and nothing is stored", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const { service, sql } = yield* outbox(server.script)
      const error = yield* Effect.flip(service.enqueue({ ...message(1), to: ["rcpt@example.com\r\nDATA"] }))
      expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
      expect(error._tag === "InvalidInputError" && error.field).toBe("to")
      const empty = yield* Effect.flip(service.enqueue({ ...message(1), to: [] }))
      expect(empty._tag).toBe("InvalidInputError")
      const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM smtp_outbox_messages`
      expect(rows[0].n).toBe(0)
      yield* settle
      expect(server.commands).toEqual([])
    }))

  it.effect("sendAt waits on the durable clock: nothing before it, sent once it is due", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const { service } = yield* outbox(server.script)
      const now = yield* DateTime.now
      const due = DateTime.add(now, { hours: 2 })
      const id = yield* service.enqueue(message(1), { sendAt: due })
      const waiting = yield* statusOf(service, id)
      expect(waiting._tag).toBe("Pending")
      if (waiting._tag === "Pending") {
        expect(waiting.attempts).toBe(0)
        expect(waiting.nextAttemptAt).toEqual(due)
      }
      yield* TestClock.adjust(Duration.millis(2 * 3600_000 - 1))
      expect((yield* statusOf(service, id))._tag).toBe("Pending")
      expect(server.received).toHaveLength(0)
      yield* TestClock.adjust(Duration.millis(1))
      expect((yield* statusOf(service, id))._tag).toBe("Sent")
      expect(server.received).toHaveLength(1)
    }))

  it.effect("retryable failures are retried on the schedule (under TestClock), then Sent", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const script = finalReplies(server, ["451 4.3.0 try later\r\n", "451 4.3.0 try later\r\n"])
      const { service } = yield* outbox(script, { retry: Schedule.spaced("10 minutes") })
      const start = yield* DateTime.now
      const id = yield* service.enqueue(message(1))
      const first = yield* statusOf(service, id)
      expect(first).toEqual(
        new SmtpOutbox.Pending({
          id,
          attempts: 1,
          nextAttemptAt: DateTime.add(start, { minutes: 10 }),
          enqueuedAt: start
        })
      )
      yield* TestClock.adjust(Duration.minutes(9))
      expect(((yield* statusOf(service, id)) as SmtpOutbox.Pending).attempts).toBe(1)
      yield* TestClock.adjust(Duration.minutes(1))
      expect(((yield* statusOf(service, id)) as SmtpOutbox.Pending).attempts).toBe(2)
      yield* TestClock.adjust(Duration.minutes(10))
      const sent = yield* statusOf(service, id)
      expect(sent._tag).toBe("Sent")
      expect(sent.attempts).toBe(3)
    }))

  it.effect("when the schedule runs out the message is Failed (RetriesExhausted) with the last error", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const script = finalReplies(server, Array.from({ length: 10 }, () => "452 4.3.1 queue full\r\n"))
      const { service } = yield* outbox(script, {
        retry: Schedule.max([Schedule.exponential("1 minute"), Schedule.recurs(2)])
      })
      const id = yield* service.enqueue(message(1))
      yield* settle
      yield* TestClock.adjust(Duration.minutes(1))
      yield* settle
      yield* TestClock.adjust(Duration.minutes(2))
      const failed = yield* statusOf(service, id)
      expect(failed._tag).toBe("Failed")
      if (failed._tag !== "Failed") return
      expect(failed.reason).toBe("RetriesExhausted")
      expect(failed.attempts).toBe(3)
      expect(failed.error).toBeInstanceOf(SmtpError.SmtpCommandError)
      expect(failed.error._tag === "SmtpCommandError" && failed.error.statusCode).toBe(452)
      // Every attempt's data reached the server (each refused after it); none after the last.
      expect(server.received).toHaveLength(3)
      yield* TestClock.adjust(Duration.hours(5))
      expect(server.received).toHaveLength(3)
    }))

  it.effect("a permanent failure is Failed at once, never retried", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ rcpt: () => "550 5.1.1 no such user" })
      const { service } = yield* outbox(server.script)
      const id = yield* service.enqueue(message(1))
      const failed = yield* statusOf(service, id)
      expect(failed._tag).toBe("Failed")
      if (failed._tag !== "Failed") return
      expect(failed.reason).toBe("Permanent")
      expect(failed.attempts).toBe(1)
      expect(failed.error.message).toContain("550")
      yield* TestClock.adjust(Duration.hours(10))
      expect(server.commands.filter((c) => c.startsWith("MAIL"))).toHaveLength(1)
    }))

  describe("the Unknown boundary (scripted server)", () => {
    /** Greets, takes MAIL/RCPT/DATA as one pipelined group, answers 354, then `after`; later connections behave. */
    const firstConnection = (after: (side: TestSocket.ServerSide) => Effect.Effect<void, unknown>): Script => {
      const server = TestSocket.smtpServer()
      let connections = 0
      return (side) =>
        ++connections > 1 ? server.script(side) : Effect.gen(function*() {
          yield* side.send("220 hi\r\n")
          yield* side.readLine
          yield* side.send("250-hi\r\n250 PIPELINING\r\n")
          for (let i = 0; i < 3; i++) yield* side.readLine
          yield* side.send("250 ok\r\n250 ok\r\n354 go\r\n")
          yield* after(side)
        })
    }

    it.effect("a drop before the end of the message is retried, and the retry is Sent", () =>
      Effect.gen(function*() {
        // The server hangs up right after 354: the end cannot be written.
        const { service } = yield* outbox(firstConnection(() => Effect.void), { retry: Schedule.spaced("1 minute") })
        const id = yield* service.enqueue(message(1))
        const pending = yield* statusOf(service, id)
        expect(pending._tag).toBe("Pending")
        expect(pending.attempts).toBe(1)
        yield* TestClock.adjust(Duration.minutes(1))
        const sent = yield* statusOf(service, id)
        expect(sent._tag).toBe("Sent")
        expect(sent.attempts).toBe(2)
      }))

    it.effect("a drop after the end of the message is parked as Unknown and never retried", () =>
      Effect.gen(function*() {
        // The server reads the whole message, terminator included, and hangs up without a reply.
        const { service } = yield* outbox(firstConnection((side) => Effect.asVoid(side.readData)), {
          retry: Schedule.spaced("1 minute")
        })
        const id = yield* service.enqueue(message(1))
        const unknown = yield* statusOf(service, id)
        expect(unknown._tag).toBe("Unknown")
        if (unknown._tag !== "Unknown") return
        expect(unknown.error).toBeInstanceOf(SmtpError.DeliveryUnknownError)
        expect(unknown.error.messageId).toBe("<m1@example.com>")
        yield* TestClock.adjust(Duration.hours(5))
        expect((yield* statusOf(service, id))._tag).toBe("Unknown")
      }))

    it.effect("resend sends an Unknown message again; a Sent one is refused; an unknown id is not found", () =>
      Effect.gen(function*() {
        const { service } = yield* outbox(firstConnection((side) => Effect.asVoid(side.readData)))
        const id = yield* service.enqueue(message(1))
        expect((yield* statusOf(service, id))._tag).toBe("Unknown")
        yield* service.resend(id)
        const sent = yield* statusOf(service, id)
        expect(sent._tag).toBe("Sent")
        expect(sent.attempts).toBe(2)
        const refused = yield* Effect.flip(service.resend(id))
        expect(refused).toEqual(new OutboxError.ResendRefusedError({ id, state: "Sent" }))
        const missing = yield* Effect.flip(service.status("no-such-id"))
        expect(missing).toEqual(new OutboxError.MessageNotFoundError({ id: "no-such-id" }))
      }))
  })

  describe("a worker that stops mid-attempt (the outbox closed, then built again on the same file)", () => {
    /** The server answers everything but holds back the reply to the end of the message, forever. */
    const silentAfterEnd: Script = (side) =>
      TestSocket.smtpServer().script({
        ...side,
        send: (data) => typeof data === "string" && data.startsWith("250 2.0.0 Ok") ? Effect.never : side.send(data)
      })
    /** The server answers everything but DATA (354), which it holds back forever. */
    const silentBeforeData: Script = (side) =>
      TestSocket.smtpServer({ capabilities: [] }).script({
        ...side,
        send: (data) => typeof data === "string" && data.startsWith("354") ? Effect.never : side.send(data)
      })

    /** Message 1, parked as Unknown by the attempt that found its own durable record. */
    const expectCut = (service: SmtpOutbox.SmtpOutboxService, id: string) =>
      Effect.gen(function*() {
        const unknown = yield* statusOf(service, id)
        expect(unknown._tag).toBe("Unknown")
        if (unknown._tag !== "Unknown") return
        expect(unknown.error).toBeInstanceOf(OutboxError.AttemptCutError)
        expect(unknown.error).toMatchObject({
          _tag: "AttemptCutError",
          attempt: 1,
          messageId: "<m1@example.com>",
          recipients: ["rcpt@example.com"]
        })
        expect(unknown.error.message).toContain("resend")
      })

    /**
     * Enqueues message 1 on an outbox of its own and stops that outbox once
     * the attempt waits (for `script`'s reply): the stop runs in a fiber of
     * its own while the clock moves by `wait`; returns the id once it ended.
     */
    const stopMidAttempt = (filename: string, script: Script, wait: Duration.Input, options: SmtpOutbox.Options = {}) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const id = yield* Effect.gen(function*() {
          const { service } = yield* outbox(script, options, filename)
          const id = yield* service.enqueue(message(1))
          expect((yield* statusOf(service, id))._tag).toBe("Pending")
          return id
        }).pipe(Scope.provide(scope))
        const stopping = yield* Effect.forkChild(Scope.close(scope, Exit.void))
        yield* settle
        yield* TestClock.adjust(wait)
        yield* Fiber.join(stopping)
        return id
      })

    it.effect("stopped after the durable record, the reply on its way: the stop waits for it, and the message is Sent once", () =>
      Effect.gen(function*() {
        const db = yield* tempDatabase
        const slow = TestSocket.smtpServer()
        // The reply to the end of the message comes 5 s after it (the stop waits up to 10 s).
        const first = yield* stopMidAttempt(
          db.filename,
          (side) =>
            slow.script({
              ...side,
              send: (data) =>
                typeof data === "string" && data.startsWith("250 2.0.0 Ok")
                  ? Effect.andThen(Effect.sleep(Duration.seconds(5)), side.send(data))
                  : side.send(data)
            }),
          Duration.seconds(5)
        )
        expect(slow.received).toHaveLength(1)
        const server = TestSocket.smtpServer()
        const { service } = yield* outbox(server.script, {}, db.filename)
        const sent = yield* statusOf(service, first)
        expect(sent._tag).toBe("Sent")
        expect(sent.attempts).toBe(1)
        expect(server.received).toHaveLength(0)
      }))

    it.effect("stopped after the durable record, no reply within stopTimeout: the restarted outbox parks it as Unknown (AttemptCutError)", () =>
      Effect.gen(function*() {
        const db = yield* tempDatabase
        const first = yield* stopMidAttempt(db.filename, silentAfterEnd, Duration.seconds(2), {
          stopTimeout: "2 seconds"
        })
        const server = TestSocket.smtpServer()
        const { service } = yield* outbox(server.script, {}, db.filename)
        yield* expectCut(service, first)
        expect(server.received).toHaveLength(0)
      }))

    it.effect("found at start with its durable record written (a crash after it): parked as Unknown (AttemptCutError)", () =>
      Effect.gen(function*() {
        const db = yield* tempDatabase
        const first = yield* Effect.scoped(Effect.gen(function*() {
          const { service } = yield* outbox(TestSocket.smtpServer().script, {}, db.filename)
          return yield* service.enqueue(message(1), { sendAt: (yield* Clock.currentTimeMillis) + 60_000 })
        }))
        const server = TestSocket.smtpServer()
        const { service, sql } = yield* outbox(server.script, {}, db.filename)
        // What a crash between the record of attempt 1 and its outcome leaves.
        yield* sql`UPDATE smtp_outbox_messages SET end_step = '0/1', attempts = 1 WHERE id = ${first}`
        yield* TestClock.adjust(Duration.minutes(1))
        yield* expectCut(service, first)
        expect(server.received).toHaveLength(0)
      }))

    it.effect("stopped before the record: the restarted outbox sends it again, once", () =>
      Effect.gen(function*() {
        const db = yield* tempDatabase
        // Nothing to wait for: the stop ends without the clock moving.
        const first = yield* stopMidAttempt(db.filename, silentBeforeData, Duration.zero)
        const server = TestSocket.smtpServer()
        const { service } = yield* outbox(server.script, {}, db.filename)
        const sent = yield* statusOf(service, first)
        expect(sent._tag).toBe("Sent")
        expect(sent.attempts).toBe(2)
        expect(server.received).toHaveLength(1)
      }))
  })

  it.effect("streamed bodies and composed messages are stored as the exact bytes sent", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const { service } = yield* outbox(server.script)
      const streamed = yield* service.enqueue({
        from: "app@example.com",
        to: ["rcpt@example.com"],
        content: Stream.make(encoder.encode("Subject: streamed\r\n\r\n"), encoder.encode("a\r\n.dot\r\n"))
      })
      const composed = yield* MailMessage.compose({
        from: "app@example.com",
        to: ["rcpt@example.com"],
        subject: "Grüße",
        text: "Hallo"
      })
      const composedId = yield* service.enqueue(composed)
      yield* settle
      expect((yield* service.status(streamed))._tag).toBe("Sent")
      const sent = yield* service.status(composedId)
      expect(sent._tag === "Sent" && sent.result.messageId).toBe(composed.messageId)
      const bodies = server.received.map((m) => decoder.decode(m.data))
      expect(bodies).toContain("Subject: streamed\r\n\r\na\r\n.dot\r\n")
      expect(bodies.some((b) => b.includes(`Message-ID: ${composed.messageId}`))).toBe(true)
    }))

  it.effect("metrics: messages by state and the oldest pending age from the database; attempts per ended message", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({
        rcpt: (address) => address.startsWith("bad") ? "550 5.1.1 no" : undefined
      })
      const { service } = yield* outbox(server.script, { metricsInterval: "10 seconds" })
      const attemptsSent = Metric.withAttributes(OutboxMetrics.attempts, { state: "Sent" })
      const before = (yield* Metric.value(attemptsSent)).count
      yield* service.enqueue(message(1))
      yield* service.enqueue(message(2))
      yield* service.enqueue({ ...message(3), to: ["bad@example.com"] })
      const now = yield* DateTime.now
      yield* service.enqueue(message(4), { sendAt: DateTime.add(now, { minutes: 30 }) })
      yield* settle
      yield* TestClock.adjust(Duration.seconds(10))
      yield* settle
      const gauge = (state: string) => Metric.value(Metric.withAttributes(OutboxMetrics.messages, { state }))
      expect((yield* gauge("Sent")).value).toBe(2)
      expect((yield* gauge("Failed")).value).toBe(1)
      expect((yield* gauge("Pending")).value).toBe(1)
      expect((yield* gauge("Unknown")).value).toBe(0)
      expect((yield* Metric.value(OutboxMetrics.oldestPendingAge)).value).toBe(10)
      expect((yield* Metric.value(attemptsSent)).count - before).toBe(2)
    }))

  describe("the shared rate limit and pause (TestClock)", () => {
    it.effect("messages start one every (interval + jitter) / messages", () =>
      Effect.gen(function*() {
        const server = TestSocket.smtpServer()
        const { service } = yield* outbox(server.script, {
          rateLimit: { messages: 2, interval: "1 second", jitter: 0 }
        })
        yield* Effect.forEach([1, 2, 3, 4], (n) => service.enqueue(message(n)))
        yield* settle
        expect(server.received).toHaveLength(1)
        yield* TestClock.adjust(Duration.millis(499))
        yield* settle
        expect(server.received).toHaveLength(1)
        yield* TestClock.adjust(Duration.millis(1))
        yield* settle
        expect(server.received).toHaveLength(2)
        yield* TestClock.adjust(Duration.seconds(1))
        yield* settle
        expect(server.received).toHaveLength(4)
      }))

    it.effect("a 'too many' reply pauses every message for the backoff, not just the one refused", () =>
      Effect.gen(function*() {
        const server = TestSocket.smtpServer()
        const script = finalReplies(server, ["451 4.7.0 too many messages, slow down\r\n"])
        const { service } = yield* outbox(script, {
          retry: Schedule.spaced("1 second"),
          rateLimit: { messages: 100, interval: "1 second", backoff: "1 minute", jitter: 0 }
        })
        const pauses = Metric.withAttributes(OutboxMetrics.waits, { reason: "pause" })
        const pausesBefore = (yield* Metric.value(pauses)).count
        const first = yield* service.enqueue(message(1))
        yield* settle
        const second = yield* service.enqueue(message(2))
        yield* settle
        yield* TestClock.adjust(Duration.seconds(59))
        yield* settle
        expect(server.received).toHaveLength(1)
        expect((yield* service.status(second))._tag).toBe("Pending")
        // Due at 60 s, one rate-limit slot (10 ms) apart.
        yield* TestClock.adjust(Duration.seconds(1))
        yield* settle
        yield* TestClock.adjust(Duration.millis(10))
        yield* settle
        expect((yield* service.status(first))._tag).toBe("Sent")
        expect((yield* service.status(second))._tag).toBe("Sent")
        expect(server.received).toHaveLength(3)
        expect((yield* Metric.value(pauses)).count - pausesBefore).toBe(2)
      }))
  })
})
