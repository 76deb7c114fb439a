import { SmtpClient } from "@effect-smtp/client"
import { SmtpTestKit } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/testing/TestClock"

/** An application function under test: a reminder mail after a delay. */
const remindLater = (to: string) =>
  Effect.gen(function*() {
    yield* Effect.sleep(Duration.hours(1))
    return yield* SmtpClient.send({
      from: "app@example.com",
      to: [to],
      content: `Subject: Reminder\r\nTo: ${to}\r\n\r\nDon't forget.\r\n..and a dotted line\r\n`
    })
  })

describe("SmtpTestKit", () => {
  it.effect("captures what an application sent, under TestClock", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(remindLater("bob@example.com"))
      yield* TestClock.adjust(Duration.minutes(59))
      const sent = yield* SmtpTestKit.SentMail
      expect(yield* sent.all).toHaveLength(0)
      yield* TestClock.adjust(Duration.minutes(1))
      yield* Fiber.await(fiber)
      const last = Option.getOrThrow(yield* sent.last)
      expect(last.to).toEqual(["bob@example.com"])
      expect(Option.getOrThrow(last.header("subject"))).toBe("Reminder")
      expect(last.body).toBe("Don't forget.\r\n..and a dotted line\r\n")
      expect(yield* sent.to("bob@example.com")).toHaveLength(1)
      expect(yield* sent.to("eve@example.com")).toHaveLength(0)
    }).pipe(Effect.provide(SmtpTestKit.layer())))

  it.effect("refused recipients fail as they would against a real server", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        remindLater("nobody@example.com").pipe(
          Effect.forkChild,
          Effect.tap(() => TestClock.adjust(Duration.hours(1))),
          Effect.flatMap(Fiber.await),
          Effect.flatten
        )
      )
      expect(error._tag).toBe("SmtpCommandError")
      expect(yield* (yield* SmtpTestKit.SentMail).all).toHaveLength(0)
    }).pipe(Effect.provide(SmtpTestKit.layer({
      server: { rcpt: (address) => address.startsWith("nobody") ? "550 5.1.1 unknown user" : undefined }
    }))))
})
