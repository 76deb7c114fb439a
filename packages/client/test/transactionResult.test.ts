import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"

const layerFor = (server: ReturnType<typeof TestSocket.smtpServer>, options: Partial<SmtpClient.Options> = {}) =>
  scriptedClient(server.script, { host: "mail.test", port: 25, security: "none", ...options })

const mail = { from: "a@example.com", to: ["ok@example.com", "bad@example.com"], content: "Subject: x\r\n\r\nx\r\n" }
const refuseBad = (address: string) => address.startsWith("bad") ? "550 5.1.1 no such user" : undefined

describe("partial delivery policy", () => {
  for (const capabilities of [["PIPELINING"], []]) {
    const mode = capabilities.length > 0 ? "pipelined" : "one command at a time"
    it.effect(`"send" (default) delivers to the accepted and lists the refused (${mode})`, () => {
      const server = TestSocket.smtpServer({ capabilities, rcpt: refuseBad })
      return Effect.gen(function*() {
        const result = yield* SmtpClient.send(mail)
        expect(result.accepted).toEqual(["ok@example.com"])
        expect(result.recipients.map((r) => [r.recipient, r.statusCode])).toEqual([
          ["ok@example.com", 250],
          ["bad@example.com", 550]
        ])
        expect(server.received).toHaveLength(1)
      }).pipe(Effect.provide(layerFor(server)))
    })

    it.effect(`"abort" sends no DATA at all and RSETs when any recipient is refused (${mode})`, () => {
      const server = TestSocket.smtpServer({ capabilities, rcpt: refuseBad })
      return Effect.gen(function*() {
        const error = yield* Effect.flip(SmtpClient.send(mail))
        expect(error).toBeInstanceOf(SmtpError.SmtpCommandError)
        expect((error as SmtpError.SmtpCommandError).rejectedRecipients?.map((r) => r.recipient)).toEqual([
          "bad@example.com"
        ])
        expect(server.received).toHaveLength(0)
        expect(server.commands).not.toContain("DATA")
        expect(server.commands).toContain("RSET")
        // With every recipient accepted, "abort" still sends.
        const ok = yield* SmtpClient.send({ ...mail, to: ["ok@example.com"] })
        expect(ok.accepted).toEqual(["ok@example.com"])
      }).pipe(Effect.provide(layerFor(server, { partialDelivery: "abort" })))
    })
  }
})

describe("send result", () => {
  const finalReply = (reply: string) => (server: TestSocket.ServerSide) =>
    Effect.gen(function*() {
      yield* server.send("220 hi\r\n")
      for (const answer of ["250 hi", "250 ok", "250 ok", "354 go"]) {
        yield* server.readLine
        yield* server.send(`${answer}\r\n`)
      }
      yield* server.readData
      yield* server.send(`${reply}\r\n`)
      yield* server.readLine
      yield* server.send("221 bye\r\n")
    })

  const cases = [
    ["250 2.0.0 Ok: queued as 4XyZ12abC", "4XyZ12abC"],
    ["250 OK id=1kXyZa-0001Ab-Cd", "1kXyZa-0001Ab-Cd"],
    ["250 4ABCD1234 Message accepted for delivery", "4ABCD1234"],
    ["250 ok", undefined]
  ] as const
  for (const [reply, queueId] of cases) {
    it.effect(`queue ID of ${JSON.stringify(reply)}: ${queueId}`, () =>
      Effect.gen(function*() {
        const result = yield* SmtpClient.send({ ...mail, to: ["ok@example.com"] }).pipe(
          Effect.provide(
            scriptedClient(finalReply(reply), { host: "mail.test", port: 25, security: "none" })
          )
        )
        expect(result.queueId).toBe(queueId)
        expect(result.timings.envelopeMs).toBeGreaterThanOrEqual(0)
      }))
  }
})
