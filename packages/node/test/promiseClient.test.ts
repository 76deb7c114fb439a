import { SmtpError } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { smtpServer, users } from "@effect-smtp/test-utils/smtpServer"
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: p\r\n\r\npromise\r\n" }

describe("NodeSmtp.promiseClient", () => {
  it.live("sends with promises, and rejects with the typed error", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const client = NodeSmtp.promiseClient({ host: "127.0.0.1", port: server.port, security: "none" })
      const result = yield* Effect.promise(() => client.send(mail))
      expect(result.accepted).toEqual(["b@example.com"])
      const error = yield* Effect.promise(() => client.send({ ...mail, to: ["reject@example.com"] }).catch((e) => e))
      expect(error).toBeInstanceOf(SmtpError.SmtpCommandError)
      yield* Effect.promise(() => client.close())
    }))

  it.live("an AbortSignal interrupts a send that hangs, and its connection is closed", () =>
    Effect.gen(function*() {
      // The server never answers the end of DATA.
      const server = yield* smtpServer({ hideSTARTTLS: true, onData: () => {} })
      const client = NodeSmtp.promiseClient({ host: "127.0.0.1", port: server.port, security: "none" })
      const controller = new AbortController()
      const pending = client.send(mail, { signal: controller.signal }).catch((e: unknown) => e)
      yield* Effect.sleep("300 millis")
      controller.abort()
      const error = yield* Effect.promise(() => pending)
      expect((error as DOMException).name).toBe("AbortError")
      for (let i = 0; i < 100 && (yield* server.connections) > 0; i++) yield* Effect.sleep("20 millis")
      expect(yield* server.connections).toBe(0)
      yield* Effect.promise(() => client.close())
    }))

  it.live("every send after close() rejects with ClientClosedError, even one made while close is under way", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const client = NodeSmtp.promiseClient({ host: "127.0.0.1", port: server.port, security: "none" })
      yield* Effect.promise(() => client.send(mail))
      const closing = client.close()
      const during = yield* Effect.promise(() => client.send(mail).catch((e: unknown) => e))
      yield* Effect.promise(() => closing)
      const after = yield* Effect.promise(() =>
        Promise.all([client.send(mail), client.send(mail)].map((p) => p.catch((e: unknown) => e)))
      )
      for (const error of [during, ...after]) {
        expect(error).toBeInstanceOf(NodeSmtp.ClientClosedError)
        expect((error as NodeSmtp.ClientClosedError)._tag).toBe("ClientClosedError")
        expect((error as Error).message).toContain("after close()")
      }
      expect(server.received).toHaveLength(1)
    }))

  it.live("verify connects, upgrades with STARTTLS, authenticates and quits, sending no message", () =>
    Effect.gen(function*() {
      const { ca } = testCertificates()
      const server = yield* smtpServer()
      const tls = { ca, servername: "localhost" }
      const client = NodeSmtp.promiseClient({
        host: "127.0.0.1",
        port: server.port,
        security: "starttls",
        tls,
        auth: { user: "alice", password: Redacted.make(users.alice!) }
      })
      yield* Effect.promise(() => client.verify())
      expect(server.received).toEqual([])
      for (let i = 0; i < 100 && (yield* server.connections) > 0; i++) yield* Effect.sleep("20 millis")
      expect(yield* server.connections).toBe(0)
      yield* Effect.promise(() => client.close())

      // A wrong password rejects with the typed error of the failed step.
      const wrong = NodeSmtp.promiseClient({
        host: "127.0.0.1",
        port: server.port,
        security: "starttls",
        tls,
        auth: { user: "alice", password: Redacted.make("wrong") }
      })
      const error = yield* Effect.promise(() => wrong.verify().then(() => undefined, (e: unknown) => e))
      expect(error).toBeInstanceOf(SmtpError.AuthenticationError)
      expect((error as SmtpError.AuthenticationError).reason).toBe("Rejected")
      yield* Effect.promise(() => wrong.close())

      // STARTTLS required but not offered: a TlsError, nothing in plaintext.
      const plain = yield* smtpServer({ hideSTARTTLS: true })
      const noTls = NodeSmtp.promiseClient({ host: "127.0.0.1", port: plain.port, security: "starttls" })
      const tlsError = yield* Effect.promise(() => noTls.verify().then(() => undefined, (e: unknown) => e))
      expect(tlsError).toBeInstanceOf(SmtpError.TlsError)
      yield* Effect.promise(() => noTls.close())
    }))
})
