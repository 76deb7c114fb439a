/**
 * SCRAM-SHA-256-PLUS over the Node transport: the client binds its proof to
 * the TLS 1.3 session with tls-exporter (RFC 9266), checked by a server that
 * computes the binding from its own end of the session (node:crypto, not the
 * client's code); without TLS 1.3 it falls back to SCRAM-SHA-256 with the
 * right GS2 flag ("n" when the server offers -PLUS, "y" when it does not).
 */
import { SmtpClient } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { scramServer } from "@effect-smtp/test-utils/scramServer"
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

const password = "pencil \u00e9t\u00e9"

const sendTo = (port: number) =>
  SmtpClient.send({ from: "a@example.com", to: ["b@example.com"], content: "Subject: plus\r\n\r\nhi\r\n" }).pipe(
    Effect.provide(NodeSmtp.layer({
      host: "localhost",
      port,
      security: "tls",
      tls: { ca: testCertificates().ca },
      auth: { user: "user", password: Redacted.make(password) }
    }))
  )

describe("SCRAM channel binding (Node transport)", () => {
  it.effect("TLS 1.3 and a server offering -PLUS: SCRAM-SHA-256-PLUS with tls-exporter, accepted", () =>
    Effect.gen(function*() {
      const server = yield* scramServer({ password, offer: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN"] })
      const result = yield* sendTo(server.port)
      expect(result.accepted).toEqual(["b@example.com"])
      expect(server.logins).toEqual([
        { mechanism: "SCRAM-SHA-256-PLUS", flag: "p=tls-exporter", protocol: "TLSv1.3", ok: true }
      ])
    }))

  it.effect("TLS 1.2: no binding this client vouches for, so SCRAM-SHA-256 with flag n (the server offers -PLUS)", () =>
    Effect.gen(function*() {
      const server = yield* scramServer({
        password,
        offer: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"],
        maxVersion: "TLSv1.2"
      })
      yield* sendTo(server.port)
      expect(server.logins).toEqual([{ mechanism: "SCRAM-SHA-256", flag: "n", protocol: "TLSv1.2", ok: true }])
    }))

  it.effect("TLS 1.3 and a server without -PLUS: SCRAM-SHA-256 with flag y (a stripped -PLUS would be noticed)", () =>
    Effect.gen(function*() {
      const server = yield* scramServer({ password, offer: ["SCRAM-SHA-256", "PLAIN"] })
      yield* sendTo(server.port)
      expect(server.logins).toEqual([{ mechanism: "SCRAM-SHA-256", flag: "y", protocol: "TLSv1.3", ok: true }])
    }))
})
