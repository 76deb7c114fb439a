import { SmtpError, SmtpProtocol } from "@effect-smtp/client"
import { resolveTimeouts } from "@effect-smtp/client/SmtpProtocol"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"

/**
 * Opening a session: the greeting, EHLO (HELO for servers without
 * extensions), STARTTLS as the security mode asks, then AUTH.
 */

const connect = (
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  options: Partial<Parameters<SmtpProtocol["Service"]["connect"]>[0]> = {}
) =>
  Effect.flatMap(SmtpProtocol, (protocol) =>
    protocol.connect({
      host: "mail.test",
      port: 25,
      security: "none",
      timeouts: resolveTimeouts("10 seconds"),
      ...options
    })).pipe(Effect.provide(SmtpProtocol.layer.pipe(Layer.provide(TestSocket.layer(script)))))

describe("handshake", () => {
  it.effect("a server that does not know EHLO is greeted with HELO and offers nothing", () =>
    Effect.gen(function*() {
      const commands: Array<string> = []
      const session = yield* connect((server) =>
        Effect.gen(function*() {
          yield* server.send("220 old.example SMTP\r\n")
          commands.push(yield* server.readLine)
          yield* server.send("502 5.5.2 command not implemented\r\n")
          commands.push(yield* server.readLine)
          yield* server.send("250 old.example\r\n")
          yield* Effect.never
        })
      )
      expect(commands).toEqual(["EHLO [127.0.0.1]", "HELO [127.0.0.1]"])
      const capabilities = yield* session.capabilities
      expect(capabilities.pipelining).toBe(false)
      expect(capabilities.auth).toEqual([])
    }))

  it.effect("a greeting other than 220 fails with the server's reply", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(connect((server) => server.send("554 5.7.1 go away\r\n")))
      expect(error).toBeInstanceOf(SmtpError.SmtpCommandError)
      expect(error._tag === "SmtpCommandError" && error.statusCode).toBe(554)
    }))

  for (const security of ["starttls", "starttls-if-available"] as const) {
    it.effect(`${security}: a server without STARTTLS gets no credentials and no message (TlsError before anything else)`, () =>
      Effect.gen(function*() {
        const server = TestSocket.smtpServer({ capabilities: ["AUTH PLAIN", "PIPELINING"] })
        const error = yield* Effect.flip(connect(server.script, { security, credentialsFollow: true }))
        expect(error).toBeInstanceOf(SmtpError.TlsError)
        expect(server.commands).toEqual(["EHLO [127.0.0.1]"])
      }))
  }

  it.effect("starttls-if-available without credentials stays in plaintext when STARTTLS is not offered", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
      const session = yield* connect(server.script, { security: "starttls-if-available" })
      expect(yield* session.isTls).toBe(false)
      expect(server.commands).toEqual(["EHLO [127.0.0.1]"])
    }))

  it.effect("after STARTTLS, what the server offers is what it said after the handshake (RFC 3207 §4.2)", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities: ["STARTTLS", "PIPELINING", "AUTH PLAIN"] })
      const session = yield* connect(server.script, { security: "starttls" })
      expect(yield* session.isTls).toBe(true)
      expect(server.commands).toEqual(["EHLO [127.0.0.1]", "STARTTLS", "EHLO [127.0.0.1]"])
      const capabilities = yield* session.capabilities
      expect(capabilities.startTls).toBe(false)
      expect(capabilities.auth).toEqual(["PLAIN"])
    }))

  it.effect("AUTH: accepted, or an AuthenticationError with the server's status; the password never in the error", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({
        capabilities: ["AUTH PLAIN LOGIN"],
        credentials: { user: "alice", password: "right" }
      })
      const session = yield* connect(server.script)
      yield* session.authenticate({ user: "alice", password: Redacted.make("right") })
      const again = yield* connect(server.script)
      const error = yield* Effect.flip(again.authenticate({ user: "alice", password: Redacted.make("wrong-secret") }))
      expect(error).toBeInstanceOf(SmtpError.AuthenticationError)
      expect(error._tag === "AuthenticationError" && error.statusCode).toBe(535)
      expect(error.message).not.toContain("wrong-secret")
    }))

  it.effect("a bad EHLO name is refused before connecting", () =>
    Effect.gen(function*() {
      let connected = false
      const error = yield* Effect.flip(connect(() =>
        Effect.sync(() => {
          connected = true
        }), { ehloName: "evil\r\nMAIL FROM:<x@y.z>" }))
      expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
      expect(connected).toBe(false)
    }))
})
