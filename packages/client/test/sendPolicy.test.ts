import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { type TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/testing/TestClock"
import { untilSleeping } from "./utils/clock.js"

const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: x\r\n\r\nx\r\n" }

/** A server whose reply to MAIL comes from `mailReply(n)` for the n-th transaction (from 0). */
const serverWith = (mailReply: (n: number) => string, log: Array<number>) => {
  let n = 0
  return (server: TestSocket.ServerSide) =>
    Effect.gen(function*() {
      yield* server.send("220 hi\r\n")
      yield* server.readLine
      yield* server.send("250 hi\r\n")
      yield* server.readLine
      log.push(yield* Clock.currentTimeMillis)
      const reply = mailReply(n++)
      yield* server.send(`${reply}\r\n`)
      if (!reply.startsWith("250")) {
        // RSET then QUIT, or nothing after a 421.
        if (reply.startsWith("421")) return
        yield* server.readLine
        yield* server.send("250 ok\r\n")
        yield* server.readLine
        yield* server.send("221 bye\r\n")
        return
      }
      yield* server.readLine
      yield* server.send("250 ok\r\n")
      yield* server.readLine
      yield* server.send("354 go\r\n")
      yield* server.readData
      yield* server.send("250 queued\r\n")
      yield* server.readLine
      yield* server.send("221 bye\r\n")
    })
}

const clientWith = (
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  options: Partial<SmtpClient.Options>
) => scriptedClient(script, { host: "mail.test", port: 25, security: "none", ...options })

describe("retry", () => {
  it.effect("retries a 4xx on the exact schedule (exponential 1 s, 2 s, 4 s), each on a fresh connection", () =>
    Effect.gen(function*() {
      const attempts: Array<number> = []
      const layer = clientWith(
        serverWith((n) => n < 3 ? "451 4.3.0 try later" : "250 ok", attempts),
        { retry: Schedule.max([Schedule.exponential("1 second"), Schedule.recurs(5)]) }
      )
      const fiber = yield* Effect.forkChild(SmtpClient.send(mail).pipe(Effect.provide(layer)))
      // The first attempt fails at 0 and the retry waits from then.
      yield* untilSleeping()
      yield* TestClock.adjust(Duration.millis(999))
      expect(attempts).toEqual([0])
      yield* TestClock.adjust(Duration.millis(1))
      expect(attempts).toEqual([0, 1000])
      yield* TestClock.adjust(Duration.seconds(2))
      yield* TestClock.adjust(Duration.seconds(4))
      const result = yield* Fiber.join(fiber)
      expect(attempts).toEqual([0, 1000, 3000, 7000])
      expect(result.accepted).toEqual(["b@example.com"])
    }))

  it.effect("never retries a permanent failure", () =>
    Effect.gen(function*() {
      const attempts: Array<number> = []
      const layer = clientWith(serverWith(() => "550 5.7.1 go away", attempts), {
        retry: Schedule.spaced("1 second")
      })
      const error = yield* Effect.flip(SmtpClient.send(mail).pipe(Effect.provide(layer)))
      expect(error._tag).toBe("SmtpCommandError")
      expect(attempts).toHaveLength(1)
    }))
})

describe("rate limits", () => {
  it.effect("a \"too many\" reply pauses the whole client for the backoff", () =>
    Effect.gen(function*() {
      const attempts: Array<number> = []
      const layer = clientWith(
        serverWith((n) => n === 0 ? "421 4.7.0 Too many messages, slow down" : "250 ok", attempts),
        { rateLimit: { backoff: "10 seconds" } }
      )
      yield* Effect.gen(function*() {
        const first = yield* Effect.flip(SmtpClient.send(mail))
        expect((first as SmtpError.SmtpCommandError).statusCode).toBe(421)
        // Another send of the same client waits out the pause.
        const second = yield* Effect.forkChild(SmtpClient.send(mail))
        yield* TestClock.adjust(Duration.millis(9_999))
        expect(attempts).toEqual([0])
        yield* TestClock.adjust(Duration.millis(1))
        yield* Fiber.join(second)
        expect(attempts).toEqual([0, 10_000])
      }).pipe(Effect.provide(layer))
    }))

  it.effect("at most `messages` per `interval`", () =>
    Effect.gen(function*() {
      const attempts: Array<number> = []
      const layer = clientWith(serverWith(() => "250 ok", attempts), {
        rateLimit: { messages: 2, interval: "1 minute" }
      })
      yield* Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(
          Effect.forEach([1, 2, 3], () => SmtpClient.send(mail), { concurrency: 3 })
        )
        yield* TestClock.adjust(Duration.seconds(59))
        expect(attempts).toHaveLength(2)
        yield* TestClock.adjust(Duration.seconds(1))
        yield* Fiber.join(fiber)
        expect(attempts).toHaveLength(3)
        expect(attempts[2]).toBe(60_000)
      }).pipe(Effect.provide(layer))
    }))
})

describe("deadline", () => {
  const stallAt = (stage: "MAIL" | "END") => (server: TestSocket.ServerSide) =>
    Effect.gen(function*() {
      yield* server.send("220 hi\r\n")
      yield* server.readLine
      yield* server.send("250 hi\r\n")
      yield* server.readLine
      if (stage === "MAIL") return yield* Effect.never
      yield* server.send("250 ok\r\n")
      yield* server.readLine
      yield* server.send("250 ok\r\n")
      yield* server.readLine
      yield* server.send("354 go\r\n")
      yield* server.readData
      return yield* Effect.never
    })

  it.effect("before the end of the message: TimeoutError at the deadline, not a millisecond before", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.flip(
        SmtpClient.send(mail).pipe(
          Effect.provide(clientWith(stallAt("MAIL"), { deadline: "30 seconds" }))
        )
      ))
      yield* TestClock.adjust(Duration.millis(29_999))
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust(Duration.millis(1))
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("TimeoutError")
    }))

  it.effect("after the end of the message: DeliveryUnknownError", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.flip(
        SmtpClient.send({ ...mail, messageId: "<d1@example.com>" }).pipe(
          Effect.provide(clientWith(stallAt("END"), { deadline: "30 seconds" }))
        )
      ))
      yield* TestClock.adjust(Duration.seconds(30))
      const error = yield* Fiber.join(fiber)
      expect(error).toBeInstanceOf(SmtpError.DeliveryUnknownError)
      expect((error as SmtpError.DeliveryUnknownError).messageId).toBe("<d1@example.com>")
    }))
})
