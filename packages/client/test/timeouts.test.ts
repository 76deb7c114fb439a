import { SmtpClient } from "@effect-smtp/client"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { type TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/testing/TestClock"

const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: t\r\n\r\nbody\r\n" }

/** A server that behaves until `stage`, then never answers again. */
const stallAt = (stage: string) => (server: TestSocket.ServerSide) =>
  Effect.gen(function*() {
    if (stage === "greeting") return yield* Effect.never
    yield* server.send("220 hi\r\n")
    while (true) {
      const line = yield* server.readLine
      const verb = line.split(/[ :]/)[0]!.toUpperCase()
      if (verb === stage) return yield* Effect.never
      if (verb === "EHLO") yield* server.send("250 hi\r\n")
      else if (verb === "DATA") {
        yield* server.send("354 go\r\n")
        yield* server.readData
        if (stage === "END") return yield* Effect.never
        yield* server.send("250 ok\r\n")
      } else yield* server.send("250 ok\r\n")
    }
  })

const layerFor = (stage: string, options: Partial<SmtpClient.Options>) =>
  scriptedClient(stallAt(stage), { host: "mail.test", port: 25, security: "none", ...options })

/** Forks the send, moves the clock to one millisecond before `after`, then to `after`. */
const firesExactlyAt = (after: Duration.Duration, stage: string, options: Partial<SmtpClient.Options>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.flip(SmtpClient.send(mail)))
    yield* TestClock.adjust(Duration.subtract(after, Duration.millis(1)))
    expect(fiber.pollUnsafe()).toBeUndefined()
    yield* TestClock.adjust(Duration.millis(1))
    const failure = yield* Fiber.join(fiber)
    // After the end of the message, a timeout leaves the delivery unknown.
    const error = failure._tag === "DeliveryUnknownError" ? failure.cause : failure
    expect(failure._tag).toBe(stage === "END" ? "DeliveryUnknownError" : "TimeoutError")
    expect(error._tag).toBe("TimeoutError")
    return error
  }).pipe(Effect.provide(layerFor(stage, options)))

describe("timeouts fire exactly at their configured duration, not a millisecond earlier", () => {
  const cases = [
    ["greeting", "greeting", Duration.minutes(1)],
    ["EHLO", "command", Duration.minutes(5)],
    ["MAIL", "mail", Duration.minutes(5)],
    ["RCPT", "rcpt", Duration.minutes(5)],
    ["DATA", "dataInitiation", Duration.minutes(2)],
    ["END", "dataTermination", Duration.minutes(10)]
  ] as const

  for (const [stage, key, byDefault] of cases) {
    it.effect(`${stage}: default ${Duration.format(byDefault)} (RFC 5321 §4.5.3.2, the greeting 1 minute for applications)`, () =>
      Effect.gen(function*() {
        const error = yield* firesExactlyAt(byDefault, stage, {})
        expect(error.message).toContain("Timed out after")
      }))

    it.effect(`${stage}: options.timeouts.${key} overrides it`, () =>
      firesExactlyAt(Duration.seconds(7), stage, { timeouts: { [key]: "7 seconds" } }))
  }

  it.effect("options.timeout sets every wait at once", () =>
    firesExactlyAt(Duration.seconds(3), "RCPT", { timeout: "3 seconds" }))
})
