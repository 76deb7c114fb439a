import { SmtpError, SmtpProtocol } from "@effect-smtp/client"
import { resolveTimeouts } from "@effect-smtp/client/SmtpProtocol"
import { effectProp, fc } from "@effect-smtp/test-utils/property"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * One mail transaction on an open session: the commands it renders from what
 * the server offers, the replies it decides on, DATA or BDAT.
 */

const session = (server: ReturnType<typeof TestSocket.smtpServer>) =>
  Effect.flatMap(
    SmtpProtocol,
    (protocol) =>
      protocol.connect({ host: "mail.test", port: 25, security: "none", timeouts: resolveTimeouts("10 seconds") })
  ).pipe(
    Effect.provide(SmtpProtocol.layer.pipe(Layer.provide(TestSocket.layer(server.script))))
  )

const extensions = ["SIZE 1000000", "8BITMIME", "SMTPUTF8", "DSN", "CHUNKING", "PIPELINING"] as const

describe("transaction", () => {
  effectProp(
    "property: MAIL FROM carries SIZE, BODY=8BITMIME, SMTPUTF8 and RET/ENVID exactly when the server offers them and the message needs them; BDAT iff CHUNKING; an 8-bit body without 8BITMIME is refused before MAIL",
    [
      fc.subarray([...extensions]),
      fc.boolean(),
      fc.boolean(),
      fc.boolean()
    ],
    ([offered, eightBit, international, dsn]) =>
      Effect.gen(function*() {
        const server = TestSocket.smtpServer({ capabilities: offered })
        const opened = yield* session(server)
        const to = international ? "δοκιμή@example.com" : "b@example.com"
        const content = `Subject: t\r\n\r\n${eightBit ? "grüße" : "hello"}\r\n`
        const sent = yield* Effect.result(opened.send({
          from: "a@example.com",
          to: [to],
          content,
          dsn: dsn ? { ret: "HDRS", envid: "env-1", notify: ["FAILURE"] } : undefined
        }))
        const has = (keyword: string) => offered.some((e) => e.split(" ")[0] === keyword)
        if (international && !has("SMTPUTF8")) {
          // Refused before any command of the transaction.
          expect(sent._tag).toBe("Failure")
          expect(sent._tag === "Failure" && sent.failure).toBeInstanceOf(SmtpError.InvalidInputError)
          expect(server.commands.some((c) => c.startsWith("MAIL"))).toBe(false)
          return
        }
        if (eightBit && !has("8BITMIME")) {
          expect(sent._tag).toBe("Failure")
          const failure = sent._tag === "Failure" ? sent.failure : undefined
          expect(failure).toBeInstanceOf(SmtpError.InvalidInputError)
          expect(failure?.message).toContain("8BITMIME")
          expect(failure?.message).toContain("quoted-printable or base64")
          expect(server.commands.some((c) => c.startsWith("MAIL"))).toBe(false)
          return
        }
        expect(sent._tag).toBe("Success")
        const mail = server.commands.find((c) => c.startsWith("MAIL FROM:"))!
        const rcpt = server.commands.find((c) => c.startsWith("RCPT TO:"))!
        expect(mail.includes(" SIZE=")).toBe(has("SIZE"))
        expect(mail.includes(" BODY=8BITMIME")).toBe(has("8BITMIME") && eightBit)
        expect(mail.includes(" SMTPUTF8")).toBe(has("SMTPUTF8") && international)
        expect(mail.includes(" RET=HDRS ENVID=env-1")).toBe(has("DSN") && dsn)
        expect(rcpt.includes(" NOTIFY=FAILURE")).toBe(has("DSN") && dsn)
        expect(server.received[0].via).toBe(has("CHUNKING") ? "BDAT" : "DATA")
      }),
    { fastCheck: { numRuns: 60 } }
  )

  it.effect("some recipients refused: the rest get the message, the result lists every reply", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({
        capabilities: ["PIPELINING"],
        rcpt: (address) => address.startsWith("no") ? "550 5.1.1 no such user" : undefined
      })
      const opened = yield* session(server)
      const result = yield* opened.send({
        from: "a@example.com",
        to: ["yes@example.com", "no@example.com"],
        content: "Subject: t\r\n\r\nx\r\n"
      })
      expect(result.accepted).toEqual(["yes@example.com"])
      expect(result.rejected).toEqual([{
        recipient: "no@example.com",
        statusCode: 550,
        enhancedStatusCode: "5.1.1",
        message: "no such user"
      }])
      expect(result.recipients.map((r) => r.statusCode)).toEqual([250, 550])
      expect(result.queueId).toBe("TEST1")
    }))

  it.effect("partialDelivery abort: DATA is kept out of the group, and a refused recipient ends the transaction with RSET", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({
        capabilities: ["PIPELINING"],
        rcpt: (address) => address.startsWith("no") ? "550 5.1.1 no such user" : undefined
      })
      const opened = yield* session(server)
      const error = yield* Effect.flip(opened.send({
        from: "a@example.com",
        to: ["yes@example.com", "no@example.com"],
        content: "Subject: t\r\n\r\nx\r\n",
        partialDelivery: "abort"
      }))
      expect(error._tag).toBe("SmtpCommandError")
      expect(server.commands.slice(1)).toEqual([
        "MAIL FROM:<a@example.com>",
        "RCPT TO:<yes@example.com>",
        "RCPT TO:<no@example.com>",
        "RSET"
      ])
      expect(server.received).toHaveLength(0)
    }))

  it.effect("every recipient refused with DATA pipelined: an accepted DATA gets an empty body, nothing is delivered", () =>
    Effect.gen(function*() {
      // A server that answers DATA 354 even without recipients (some do, when pipelined).
      const lines: Array<string> = []
      const opened = yield* Effect.flatMap(
        SmtpProtocol,
        (protocol) =>
          protocol.connect({ host: "mail.test", port: 25, security: "none", timeouts: resolveTimeouts("10 seconds") })
      )
        .pipe(
          Effect.provide(SmtpProtocol.layer.pipe(Layer.provide(TestSocket.layer((server) =>
            Effect.gen(function*() {
              yield* server.send("220 hi\r\n")
              yield* server.readLine
              yield* server.send("250-hi\r\n250 PIPELINING\r\n")
              for (let i = 0; i < 3; i++) lines.push(yield* server.readLine)
              yield* server.send("250 ok\r\n550 no\r\n354 go\r\n")
              lines.push(yield* server.readLine)
              yield* server.send("554 no valid recipients\r\n")
              lines.push(yield* server.readLine)
              yield* server.send("250 reset\r\n")
              yield* Effect.never
            })
          ))))
        )
      const error = yield* Effect.flip(opened.send({ from: "a@x.y", to: ["b@x.y"], content: "x\r\n" }))
      expect(error._tag).toBe("SmtpCommandError")
      expect(lines).toEqual(["MAIL FROM:<a@x.y>", "RCPT TO:<b@x.y>", "DATA", ".", "RSET"])
      expect(yield* opened.broken).toBeUndefined()
    }))
})

describe("quoted local parts", () => {
  it.effect("go on MAIL FROM and RCPT TO as written, inside the brackets (RFC 5321 §4.1.2)", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING", "8BITMIME", "DSN"] })
      const opened = yield* session(server)
      const result = yield* opened.send({
        from: "\"john doe\"@example.com",
        to: ["\"a \\\"b\\\" c\"@example.com"],
        content: "Subject: q\r\n\r\nquoted\r\n",
        dsn: { notify: ["FAILURE"] }
      })
      expect(result.accepted).toEqual(["\"a \\\"b\\\" c\"@example.com"])
      expect(server.commands).toContain("MAIL FROM:<\"john doe\"@example.com>")
      // ORCPT carries the address as xtext (RFC 3461 §4): the space and quotes encoded.
      expect(server.commands).toContain(
        "RCPT TO:<\"a \\\"b\\\" c\"@example.com> NOTIFY=FAILURE ORCPT=rfc822;\"a+20\\\"b\\\"+20c\"@example.com"
      )
    }))
})
