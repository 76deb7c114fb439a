import { SmtpClient } from "@effect-smtp/client"
import { MailMessage } from "@effect-smtp/message"
import { effectProp, fc } from "@effect-smtp/test-utils/property"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"

describe("SmtpClient.send with a composed message", () => {
  it.effect("derives the envelope (to, cc and bcc) and reports the Message-ID", () => {
    const server = TestSocket.smtpServer()
    const layer = scriptedClient(server.script, { host: "mail.test", port: 25, security: "none" })
    return Effect.gen(function*() {
      const composed = yield* MailMessage.compose({
        from: { name: "App", address: "app@example.com" },
        to: ["alice@example.com"],
        cc: ["carol@example.com"],
        bcc: ["hidden@example.com"],
        subject: "Grüße",
        text: "Hello"
      })
      const result = yield* SmtpClient.send(composed)
      expect(result.messageId).toBe(composed.messageId)
      expect(result.envelope).toEqual({
        from: "app@example.com",
        to: ["alice@example.com", "carol@example.com", "hidden@example.com"]
      })
      expect(server.received[0]!.to).toEqual(["alice@example.com", "carol@example.com", "hidden@example.com"])
      expect(new TextDecoder().decode(server.received[0]!.data)).not.toContain("hidden@example.com")
    }).pipe(Effect.provide(layer))
  })

  effectProp(
    "property: a composed message with any Unicode text, HTML and attachment bytes (NUL and 8-bit included) is 7-bit, so a server without 8BITMIME takes it",
    [fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }), fc.uint8Array({ maxLength: 300 })],
    ([text, html, bytes]) =>
      Effect.gen(function*() {
        const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
        const layer = scriptedClient(server.script, { host: "mail.test", port: 25, security: "none" })
        const composed = yield* MailMessage.compose({
          from: { name: "Grüße ☃", address: "app@example.com" },
          to: ["alice@example.com"],
          subject: `Ünïcödé ${text}`,
          text,
          html,
          attachments: [{ filename: "données.bin", content: bytes }]
        })
        yield* SmtpClient.send(composed).pipe(Effect.provide(layer))
        expect(server.received).toHaveLength(1)
        expect(server.received[0]!.data.every((b) => b > 0 && b < 0x80)).toBe(true)
      }),
    { fastCheck: { numRuns: 40 } }
  )
})
