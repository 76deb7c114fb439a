import { SmtpClient, SmtpError, SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * REQUIRETLS (RFC 8689): a message that asks for it goes only over an
 * encrypted session to a server that offers it, with `REQUIRETLS` on MAIL
 * FROM; otherwise a TlsError and nothing of the transaction is sent. A
 * message that does not ask adds nothing.
 */

const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: t\r\n\r\nsecret\r\n" }

const setup = (capabilities: ReadonlyArray<string>, security: "starttls" | "none") => {
  const server = TestSocket.smtpServer({ capabilities })
  const layer = SmtpClient.layer({ host: "mail.test", port: 25, security }).pipe(
    Layer.provide(SmtpProtocol.layer),
    Layer.provide(TestSocket.layer(server.script)),
    Layer.provide(SmtpMetrics.layerNoop)
  )
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

  it.effect("off (the default): nothing is added, whatever the server offers", () =>
    Effect.gen(function*() {
      const { server, layer } = setup(["PIPELINING", "REQUIRETLS"], "none")
      yield* SmtpClient.send(mail).pipe(Effect.provide(layer))
      expect(server.commands).toContain("MAIL FROM:<a@example.com>")
    }))
})
