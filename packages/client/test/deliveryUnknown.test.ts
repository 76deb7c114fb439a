import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { fc, prop } from "@effect-smtp/test-utils/property"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { type TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"

const encoder = new TextEncoder()
const body = "Subject: x\r\nMessage-ID: <m1@example.com>\r\n\r\nhello\r\n"

/** Greets, accepts one transaction up to 354, then runs `afterData`. */
const serverThat =
  (afterData: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>) => (server: TestSocket.ServerSide) =>
    Effect.gen(function*() {
      yield* server.send("220 hi\r\n")
      yield* server.readLine
      yield* server.send("250 hi\r\n")
      yield* server.readLine
      yield* server.send("250 ok\r\n")
      yield* server.readLine
      yield* server.send("250 ok\r\n")
      yield* server.readLine
      yield* server.send("354 go\r\n")
      yield* afterData(server)
    })

const run = (script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>, mail: SmtpClient.Mail) =>
  Effect.flip(SmtpClient.send(mail)).pipe(
    Effect.provide(
      scriptedClient(script, { host: "mail.test", port: 25, security: "none", timeout: "1 minute" })
    )
  )

describe("the delivery-unknown boundary", () => {
  it.effect("a drop one byte before the final dot is a retryable SocketError", () =>
    Effect.gen(function*() {
      // The body arrives; the server hangs up before the terminator is written.
      const content = Stream.concat(
        Stream.make(encoder.encode(body)),
        Stream.fromEffect(Effect.as(Effect.sleep(Duration.seconds(1)), new Uint8Array(0)))
      )
      const fiber = yield* Effect.forkChild(run(
        serverThat((server) => Effect.asVoid(server.readBytes(encoder.encode(body).length))),
        { from: "a@example.com", to: ["b@example.com"], content, messageId: "<m1@example.com>" }
      ))
      yield* TestClock.adjust(Duration.seconds(1))
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("SocketError")
      expect(SmtpError.isRetryable(error)).toBe(true)
    }))

  it.effect("a drop one byte after the final dot is a DeliveryUnknownError, never retryable", () =>
    Effect.gen(function*() {
      const error = yield* run(
        serverThat((server) => Effect.asVoid(server.readData)),
        { from: "a@example.com", to: ["b@example.com"], content: body, messageId: "<m1@example.com>" }
      )
      expect(error).toBeInstanceOf(SmtpError.DeliveryUnknownError)
      if (!(error instanceof SmtpError.DeliveryUnknownError)) return
      expect(error.cause._tag).toBe("SocketError")
      expect(error.messageId).toBe("<m1@example.com>")
      expect(error.recipients).toEqual(["b@example.com"])
      expect(error.retryable).toBe(false)
      expect(error.message).toContain("may have been delivered")
    }))

  it.effect("a timeout waiting for the reply after the dot is DeliveryUnknownError too", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(run(
        serverThat((server) => Effect.andThen(server.readData, Effect.never)),
        { from: "a@example.com", to: ["b@example.com"], content: body }
      ))
      yield* TestClock.adjust(Duration.minutes(1))
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("DeliveryUnknownError")
      if (error._tag === "DeliveryUnknownError") expect(error.cause._tag).toBe("TimeoutError")
    }))
})

describe("retryable classification", () => {
  const reply = fc.record({
    statusCode: fc.integer({ min: 400, max: 599 }),
    enhancedStatusCode: fc.option(
      fc.tuple(fc.constantFrom(2, 4, 5), fc.nat(99), fc.nat(99)).map((p) => p.join(".")),
      { nil: undefined }
    )
  })

  prop(
    "a reply is retryable iff it is 4xx and its enhanced code does not say permanent (5.x.x)",
    [reply],
    ([{ enhancedStatusCode, statusCode }]) => {
      const error = new SmtpError.SmtpCommandError({
        command: "MAIL FROM",
        statusCode,
        enhancedStatusCode,
        serverMessage: "x"
      })
      const expected = statusCode < 500 && !(enhancedStatusCode ?? "").startsWith("5.")
      expect(error.retryable).toBe(expected)
      const auth = new SmtpError.AuthenticationError({ reason: "Rejected", statusCode, enhancedStatusCode })
      expect(auth.retryable).toBe(expected)
    }
  )

  it("network failures and timeouts before the dot are retryable; bad input, TLS and protocol errors are not", () => {
    const timeout = new SmtpError.TimeoutError({ operation: "MAIL FROM", timeout: Duration.seconds(1) })
    expect(timeout.retryable).toBe(true)
    expect(new SmtpError.SocketError({ operation: "connect", host: "h", port: 25, code: "ECONNREFUSED" }).retryable)
      .toBe(true)
    expect(new SmtpError.SocketError({ operation: "lookup", host: "h", port: 25, code: "ENOTFOUND" }).retryable)
      .toBe(false)
    expect(new SmtpError.InvalidInputError({ field: "to", reason: "x" }).retryable).toBe(false)
    expect(new SmtpError.TlsError({ reason: "CertificateRejected", host: "h", port: 1 }).retryable).toBe(false)
    expect(new SmtpError.SmtpProtocolError({ reason: "MalformedReply", detail: "x" }).retryable).toBe(false)
    expect(new SmtpError.DeliveryUnknownError({ cause: timeout, recipients: [] }).retryable).toBe(false)
  })
})
