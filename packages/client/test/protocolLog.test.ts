import { SmtpClient, SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"

const password = "pa55-very-secret"
const body = "Subject: log\r\n\r\nconfidential body text\r\n"

/** Every line logged while the effect runs, pushed onto `lines`. */
const capturedIn = (lines: Array<string>) =>
  Effect.provide(Logger.layer([
    Logger.make(({ message }) => {
      const text = Array.isArray(message) ? message.join(" ") : String(message)
      lines.push(...text.split("\n"))
    })
  ]))

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
        scriptedClient(server.script, {
          host: "mail.test",
          port: 25,
          security: "none",
          auth: { user: "alice", password: Redacted.make(password), mechanism },
          protocolLog
        })
      ),
      capturedIn(lines)
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

  it.effect("pooled and pipelined: the log shows what was written in the order it was written (the body, then the next message's commands behind it)", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
      const send = (i: number) =>
        SmtpClient.send({
          from: "a@example.com",
          to: [`r${i}@example.com`],
          content: `Subject: ${i}\r\n\nbody ${i}\r\n`
        })
      yield* Effect.forEach([1, 2, 3], send, { concurrency: 3 }).pipe(
        Effect.provide(
          SmtpClient.layer({
            host: "mail.test",
            port: 25,
            security: "none",
            pool: { maxConnections: 1 },
            protocolLog: { body: true }
          })
            .pipe(
              Layer.provide(SmtpProtocol.layer),
              Layer.provide(TestSocket.layer(server.script)),
              Layer.provide(SmtpMetrics.layerNoop)
            )
        ),
        capturedIn(lines)
      )
      // The client's lines, in order: each body (ending with ".") is followed by the next message's MAIL.
      const client = lines.filter((l) => l.startsWith("C: "))
      const body1 = client.indexOf("C: body 1")
      const mail2 = client.indexOf("C: MAIL FROM:<a@example.com>", body1)
      expect(server.pipelinedAfterBody()).toBeGreaterThan(0)
      expect(body1).toBeGreaterThan(-1)
      expect(client.slice(body1, mail2 + 1)).toEqual(["C: body 1", "C: .", "C: MAIL FROM:<a@example.com>"])
      // And every MAIL is logged before that message's body.
      for (const i of [1, 2, 3]) {
        expect(client.indexOf(`C: RCPT TO:<r${i}@example.com>`)).toBeLessThan(client.indexOf(`C: body ${i}`))
      }
    }))
})
