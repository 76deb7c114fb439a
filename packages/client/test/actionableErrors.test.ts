/**
 * Errors that point at their cause (issue 23): a silent greeting names the
 * likely TLS port, a missing STARTTLS names why plaintext was refused, an
 * aborted partial delivery says what happened, and bad credentials of any
 * shape are refused before any byte.
 */
import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/testing/TestClock"
import { untilSleeping } from "./utils/clock.js"

const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: t\r\n\r\nbody\r\n" }

const clientOn = (
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  options: Partial<SmtpClient.Options> = {}
) => scriptedClient(script, { host: "mail.test", ...options })

/** A port that speaks TLS from the first byte: it waits for a ClientHello and says nothing. */
const silentTlsPort = () => Effect.never

describe("a greeting that never comes", () => {
  it.effect("the default wait is 1 minute, not RFC 5321's 5: fails at 60 s, not a millisecond earlier", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.flip(SmtpClient.send(mail)))
      yield* untilSleeping(fiber)
      yield* TestClock.adjust(Duration.subtract(Duration.minutes(1), Duration.millis(1)))
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust(Duration.millis(1))
      const error = yield* Fiber.join(fiber)
      expect(error).toBeInstanceOf(SmtpError.TimeoutError)
    }).pipe(Effect.provide(clientOn(silentTlsPort, { port: 465, security: "starttls" }))))

  for (
    const [options, mode] of [
      [{ port: 465, security: "starttls" }, "starttls"],
      [{ port: 465, security: "none" }, "none"],
      [{ port: 2465 }, "starttls-if-available"]
    ] as const
  ) {
    it.effect(`security "${mode}" on port ${options.port}: the message names the port, the mode and security: "tls"`, () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(Effect.flip(SmtpClient.send(mail)))
        yield* untilSleeping(fiber)
        yield* TestClock.adjust(Duration.minutes(1))
        const error = yield* Fiber.join(fiber)
        expect(error._tag).toBe("TimeoutError")
        expect(error.message).toContain(`mail.test:${options.port}`)
        expect(error.message).toContain(`security "${mode}"`)
        expect(error.message).toContain(`set security: "tls"`)
        expect(error.retryable).toBe(true)
      }).pipe(Effect.provide(clientOn(silentTlsPort, options))))
  }

  it.effect("with security \"tls\" the TLS hint is not given (the session is already TLS)", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.flip(SmtpClient.send(mail)))
      yield* untilSleeping(fiber)
      yield* TestClock.adjust(Duration.minutes(1))
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("TimeoutError")
      expect(error.message).toContain("mail.test:465")
      expect(error.message).not.toContain(`set security: "tls"`)
    }).pipe(Effect.provide(clientOn(silentTlsPort, { port: 465, security: "tls" }))))

  it.effect("a TLS record where the greeting belongs fails at once, naming the port and security: \"tls\"", () =>
    Effect.gen(function*() {
      // A TLS handshake record's header: content type 22, version 3.x.
      const error = yield* Effect.flip(SmtpClient.send(mail))
      expect(error._tag).toBe("SmtpProtocolError")
      expect(error.message).toContain("mail.test:465")
      expect(error.message).toContain("TLS record")
      expect(error.message).toContain(`security "starttls-if-available"`)
      expect(error.message).toContain(`set security: "tls"`)
    }).pipe(Effect.provide(clientOn(
      (server) => Effect.andThen(server.send(new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x2a])), Effect.never),
      { port: 465, security: "starttls-if-available" }
    ))))

  it.effect("a TLS alert split over two reads is recognised too (a chunk boundary changes nothing)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(SmtpClient.send(mail))
      expect(error._tag).toBe("SmtpProtocolError")
      expect(error.message).toContain("TLS record")
    }).pipe(Effect.provide(clientOn(
      (server) =>
        Effect.gen(function*() {
          yield* server.send(new Uint8Array([0x15]))
          yield* Effect.yieldNow
          yield* server.send(new Uint8Array([0x03, 0x03, 0x00, 0x02, 0x02, 0x46]))
          yield* Effect.never
        }),
      { port: 2465, security: "none" }
    ))))
})

describe("STARTTLS missing while credentials are configured", () => {
  const noStartTls = () => TestSocket.smtpServer({ capabilities: ["AUTH PLAIN", "PIPELINING"] })
  const auth = { user: "app", password: Redacted.make("s3cret") }

  it.effect("default security: the message says credentials never go in plaintext and how to opt in", () =>
    Effect.gen(function*() {
      const server = noStartTls()
      const error = yield* Effect.flip(SmtpClient.send(mail)).pipe(
        Effect.provide(clientOn(server.script, { port: 587, auth }))
      )
      expect(error._tag).toBe("TlsError")
      expect(error.message).not.toContain(`security "starttls" requires it`)
      expect(error.message).toContain("never sent in plaintext")
      expect(error.message).toContain(`security "none"`)
      expect(error.message).toContain("mail.test:587")
      expect(server.commands).toEqual(["EHLO [127.0.0.1]"])
    }))

  it.effect("security \"starttls\": the message names the mode that requires it", () =>
    Effect.gen(function*() {
      const server = noStartTls()
      const error = yield* Effect.flip(SmtpClient.send(mail)).pipe(
        Effect.provide(clientOn(server.script, { port: 587, security: "starttls", auth }))
      )
      expect(error._tag).toBe("TlsError")
      expect(error.message).toContain(`security "starttls" requires it`)
    }))
})

describe("partialDelivery \"abort\"", () => {
  it.effect("one recipient accepted, one refused: the error says which was refused and that DATA never went", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({
        capabilities: ["PIPELINING"],
        rcpt: (address) => address.startsWith("nobody") ? "550 5.1.1 no such user" : undefined
      })
      const error = yield* Effect.flip(SmtpClient.send({
        ...mail,
        to: ["ok@example.com", "nobody@example.com"],
        partialDelivery: "abort"
      })).pipe(Effect.provide(clientOn(server.script, { port: 25, security: "none" })))
      expect(error._tag).toBe("SmtpCommandError")
      if (error._tag !== "SmtpCommandError") return
      expect(error.message).not.toContain("every recipient was rejected")
      expect(error.message).toContain("aborted before DATA")
      expect(error.message).toContain("nobody@example.com: 550")
      expect(error.message).toContain("1 of 2 recipients refused")
      expect(error.acceptedRecipients).toEqual(["ok@example.com"])
      expect(error.rejectedRecipients?.map((r) => r.recipient)).toEqual(["nobody@example.com"])
      expect(server.commands).not.toContain("DATA")
      expect(server.received).toHaveLength(0)
    }))

  it("many accepted: the message names five and counts the rest", () => {
    const error = new SmtpError.SmtpCommandError({
      command: "RCPT TO",
      statusCode: 550,
      serverMessage: "no such user",
      rejectedRecipients: [{ recipient: "nobody@example.com", statusCode: 550, message: "no such user" }],
      acceptedRecipients: Array.from({ length: 8 }, (_, i) => `r${i}@example.com`)
    })
    expect(error.message).toContain("1 of 9 recipients refused")
    expect(error.message).toContain("r4@example.com and 3 more accepted")
    expect(error.message).not.toContain("r5@example.com")
  })

  it.effect("every recipient refused: still \"every recipient was rejected\"", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ rcpt: () => "550 5.1.1 no such user" })
      const error = yield* Effect.flip(SmtpClient.send({
        ...mail,
        to: ["x@example.com", "y@example.com"],
        partialDelivery: "abort"
      })).pipe(Effect.provide(clientOn(server.script, { port: 25, security: "none" })))
      expect(error.message).toContain("every recipient was rejected")
    }))
})

/**
 * Sends and verifies with `options` (of the wrong shape on purpose: what a
 * JavaScript caller or a loose config can pass); the server must never be
 * reached, and both fail with an InvalidInputError.
 */
const refusedBeforeConnecting = (options: Record<string, unknown>) =>
  Effect.gen(function*() {
    let connections = 0
    const layer = clientOn(() =>
      Effect.sync(() => {
        connections++
      }), options as Partial<SmtpClient.Options>)
    const sent = yield* Effect.flip(SmtpClient.send(mail)).pipe(Effect.provide(layer))
    const verified = yield* Effect.flip(Effect.flatMap(SmtpClient, (client) => client.verify)).pipe(
      Effect.provide(layer)
    )
    expect(connections).toBe(0)
    for (const error of [sent, verified]) expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
    return sent as SmtpError.InvalidInputError
  })

describe("bad credentials of any shape: InvalidInputError before any byte", () => {
  const refused = (auth: unknown, mechanism: "PLAIN" | "LOGIN" | "CRAM-MD5" | undefined = undefined) =>
    refusedBeforeConnecting({
      port: 25,
      security: "none",
      auth: mechanism === undefined ? auth : { ...(auth as object), mechanism }
    })

  it.effect("a plain string password (not Redacted): auth.password, never quoted, no defect", () =>
    Effect.gen(function*() {
      const error = yield* refused({ user: "app", password: "plain-s3cret" })
      expect(error.field).toBe("auth.password")
      expect(error.message).toContain("Redacted")
      expect(error.message).not.toContain("plain-s3cret")
    }))

  it.effect("a wiped Redacted password: auth.password, not a defect", () =>
    Effect.gen(function*() {
      const password = Redacted.make("gone")
      Redacted.wipeUnsafe(password)
      const error = yield* refused({ user: "app", password })
      expect(error.field).toBe("auth.password")
      expect(error.message).toContain("wiped")
    }))

  it.effect("a plain string access token: auth.accessToken", () =>
    Effect.gen(function*() {
      const error = yield* refused({ user: "app", accessToken: "ya29.token" })
      expect(error.field).toBe("auth.accessToken")
      expect(error.message).not.toContain("ya29")
    }))

  it.effect("a token provider handing out a plain string: auth.accessToken before AUTH, never quoted", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities: ["AUTH XOAUTH2"] })
      const tokenProvider = Effect.succeed({ accessToken: "ya29.plain" as unknown as Redacted.Redacted<string> })
      const error = yield* Effect.flip(SmtpClient.send(mail)).pipe(Effect.provide(clientOn(server.script, {
        port: 25,
        security: "none",
        auth: { user: "app", tokenProvider }
      })))
      expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
      expect(error._tag === "InvalidInputError" && error.field).toBe("auth.accessToken")
      expect(error.message).not.toContain("ya29")
      // The token is known only once the session is open: refused before AUTH, not before EHLO.
      expect(server.commands.some((command) => command.startsWith("AUTH"))).toBe(false)
    }))

  it.effect("no password at all, or a user that is not a string", () =>
    Effect.gen(function*() {
      expect((yield* refused({ user: "app" })).field).toBe("auth.password")
      expect((yield* refused({ user: 42, password: Redacted.make("p") })).field).toBe("auth.user")
    }))

  for (const mechanism of ["PLAIN", "LOGIN", "CRAM-MD5", undefined] as const) {
    it.effect(`${mechanism ?? "any mechanism"}: a password SASLprep refuses (a control character) is auth.password`, () =>
      Effect.gen(function*() {
        const error = yield* refused({ user: "app", password: Redacted.make("sec\u0007ret") }, mechanism)
        expect(error.field).toBe("auth.password")
        expect(error.message).toContain("SASLprep")
        expect(error.message).not.toContain("sec")
      }))

    it.effect(`${mechanism ?? "any mechanism"}: a user SASLprep refuses (private use, U+E000) is auth.user`, () =>
      Effect.gen(function*() {
        const error = yield* refused({ user: "app\ue000", password: Redacted.make("fine") }, mechanism)
        expect(error.field).toBe("auth.user")
      }))
  }

  it.effect("a password SASLprep accepts but maps (a soft hyphen) is still sent as given over PLAIN", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({
        capabilities: ["AUTH PLAIN"],
        credentials: { user: "app", password: "I\u00adX" }
      })
      yield* SmtpClient.send(mail).pipe(Effect.provide(clientOn(server.script, {
        port: 25,
        security: "none",
        auth: { user: "app", password: Redacted.make("I\u00adX"), mechanism: "PLAIN" }
      })))
      expect(server.received).toHaveLength(1)
    }))
})

describe("an endpoint of the wrong shape: InvalidInputError before any connection, never a defect", () => {
  const refused = (endpoint: { readonly host?: unknown; readonly port?: unknown }) =>
    refusedBeforeConnecting({ security: "none", ...endpoint })

  it.effect("a port from the environment, still a string: says so and how to convert it", () =>
    Effect.gen(function*() {
      const error = yield* refused({ port: "587" })
      expect(error.field).toBe("port")
      expect(error.message).toContain("the string \"587\"")
      expect(error.message).toContain("Number(")
    }))

  it.effect("a port out of range or not whole, and a missing or empty host", () =>
    Effect.gen(function*() {
      for (const port of [0, 65536, 25.5, Number.NaN]) expect((yield* refused({ port })).field).toBe("port")
      for (const host of [undefined, "", "  ", 42]) expect((yield* refused({ host, port: 25 })).field).toBe("host")
    }))
})
