import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"

/**
 * REQUIRETLS (RFC 8689): a message that asks for it goes only over an
 * encrypted session to a server that offers it, with `REQUIRETLS` on MAIL
 * FROM; otherwise a TlsError and nothing of the transaction is sent. A
 * message that does not ask adds nothing.
 */

const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: t\r\n\r\nsecret\r\n" }

const setup = (
  capabilities: ReadonlyArray<string>,
  security: "starttls" | "none",
  peerVerification?: TestSocket.Options["peerVerification"]
) => {
  const server = TestSocket.smtpServer({ capabilities })
  const layer = scriptedClient(server.script, { host: "mail.test", port: 25, security }, { peerVerification })
  return { server, layer }
}

describe("REQUIRETLS", () => {
  it.effect("offered, over TLS: MAIL FROM carries REQUIRETLS and the message goes", () =>
    Effect.gen(function*() {
      const { server, layer } = setup(["STARTTLS", "PIPELINING", "REQUIRETLS"], "starttls")
      yield* SmtpClient.send({ ...mail, requireTls: true }).pipe(Effect.provide(layer))
      expect(server.commands).toContain("MAIL FROM:<a@example.com> REQUIRETLS")
      expect(server.received).toHaveLength(1)
    }))

  it.effect("not offered, over TLS: TlsError RequireTlsNotOffered, and no MAIL FROM", () =>
    Effect.gen(function*() {
      const { server, layer } = setup(["STARTTLS", "PIPELINING"], "starttls")
      const error = yield* Effect.flip(SmtpClient.send({ ...mail, requireTls: true }).pipe(Effect.provide(layer)))
      expect(error).toBeInstanceOf(SmtpError.TlsError)
      expect(error._tag === "TlsError" && error.reason).toBe("RequireTlsNotOffered")
      expect(error.message).toContain("nothing was sent")
      expect(server.commands.some((c) => c.startsWith("MAIL"))).toBe(false)
    }))

  it.effect("offered, without TLS: TlsError RequireTlsWithoutTls, and no MAIL FROM", () =>
    Effect.gen(function*() {
      const { server, layer } = setup(["PIPELINING", "REQUIRETLS"], "none")
      const error = yield* Effect.flip(SmtpClient.send({ ...mail, requireTls: true }).pipe(Effect.provide(layer)))
      expect(error._tag === "TlsError" && error.reason).toBe("RequireTlsWithoutTls")
      expect(server.commands.some((c) => c.startsWith("MAIL"))).toBe(false)
      expect(server.received).toHaveLength(0)
    }))

  for (const reason of ["ERR_TLS_CERT_ALTNAME_INVALID", "DEPTH_ZERO_SELF_SIGNED_CERT"]) {
    it.effect(`offered, over TLS whose certificate was not verified (${reason}): TlsError RequireTlsUnverified naming why, and no MAIL FROM`, () =>
      Effect.gen(function*() {
        const { server, layer } = setup(["STARTTLS", "PIPELINING", "REQUIRETLS"], "starttls", {
          verified: false,
          reason
        })
        const error = yield* Effect.flip(SmtpClient.send({ ...mail, requireTls: true }).pipe(Effect.provide(layer)))
        expect(error).toBeInstanceOf(SmtpError.TlsError)
        expect(error._tag === "TlsError" && error.reason).toBe("RequireTlsUnverified")
        expect(error._tag === "TlsError" && error.code).toBe(reason)
        expect(error.message).toContain(`was not verified (${reason})`)
        expect(error.message).toContain("RFC 8689 §4.2.1")
        expect(error.message).toContain("nothing was sent")
        expect(server.commands.some((c) => c.startsWith("MAIL"))).toBe(false)
        expect(server.received).toHaveLength(0)
      }))
  }

  it.effect("an unverified certificate does not stop a message that does not ask for REQUIRETLS", () =>
    Effect.gen(function*() {
      const { server, layer } = setup(["STARTTLS", "PIPELINING", "REQUIRETLS"], "starttls", {
        verified: false,
        reason: "DEPTH_ZERO_SELF_SIGNED_CERT"
      })
      yield* SmtpClient.send(mail).pipe(Effect.provide(layer))
      expect(server.received).toHaveLength(1)
    }))

  it.effect("off (the default): nothing is added, whatever the server offers", () =>
    Effect.gen(function*() {
      const { server, layer } = setup(["PIPELINING", "REQUIRETLS"], "none")
      yield* SmtpClient.send(mail).pipe(Effect.provide(layer))
      expect(server.commands).toContain("MAIL FROM:<a@example.com>")
    }))
})
