import { SmtpClient, SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"

const password = "pa55-very-secret"
const body = "Subject: log\r\n\r\nconfidential body text\r\n"

/** Sends one message with the protocol log on; returns every logged line. */
const logOf = (mechanism: "PLAIN" | "LOGIN", protocolLog: SmtpClient.Options["protocolLog"]) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const server = TestSocket.smtpServer({
      capabilities: ["AUTH PLAIN LOGIN", "PIPELINING"],
      credentials: { user: "alice", password }
    })
    yield* SmtpClient.send({ from: "a@example.com", to: ["b@example.com"], content: body }).pipe(
      Effect.provide(
        SmtpClient.layer({
          host: "mail.test",
          port: 25,
          security: "none",
          auth: { user: "alice", password: Redacted.make(password), mechanism },
          protocolLog
        }).pipe(
          Layer.provide(SmtpProtocol.layer),
          Layer.provide(TestSocket.layer(server.script)),
          Layer.provide(SmtpMetrics.layerNoop)
        )
      ),
      Effect.provide(Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ message }) => {
          const text = Array.isArray(message) ? message.join(" ") : String(message)
          lines.push(...text.split("\n"))
        })
      ))
    )
    return lines
  })

describe("protocol log", () => {
  for (const mechanism of ["PLAIN", "LOGIN"] as const) {
    it.effect(`AUTH ${mechanism}: C:/S: lines, and the password never appears in any form`, () =>
      Effect.gen(function*() {
        const lines = yield* logOf(mechanism, true)
        const all = lines.join("\n")
        expect(lines[0]).toBe("S: 220 test.invalid ESMTP ready")
        expect(lines).toContain("C: EHLO [127.0.0.1]")
        expect(lines).toContain("C: MAIL FROM:<a@example.com>")
        expect(lines).toContain("S: 235 2.7.0 accepted")
        expect(all).toContain(mechanism === "PLAIN" ? "C: AUTH PLAIN <redacted>" : "C: AUTH LOGIN")
        expect(all).not.toContain(password)
        expect(all).not.toContain(btoa(password))
        expect(all).not.toContain(btoa(`\u0000alice\u0000${password}`))
        expect(all).toContain("<message body:")
        expect(all).not.toContain("confidential")
      }))
  }

  it.effect("bodies are logged only when asked", () =>
    Effect.gen(function*() {
      const lines = yield* logOf("PLAIN", { body: true })
      expect(lines).toContain("C: confidential body text")
      expect(lines.join("\n")).not.toContain(password)
    }))

  it.effect("off by default: nothing is logged", () =>
    Effect.gen(function*() {
      expect(yield* logOf("PLAIN", undefined)).toEqual([])
    }))
})
