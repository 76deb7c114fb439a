import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"

const decoder = new TextDecoder()

const clientWith = (
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  options: Partial<SmtpClient.Options> = {}
) => scriptedClient(script, { host: "mail.test", port: 25, security: "none", ...options })

const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: hi\r\n\r\nHello\r\n" }

describe("SmtpClient over the scripted server", () => {
  for (
    const [name, capabilities] of [
      ["pipelining", undefined],
      ["no extensions beyond EHLO", []],
      ["CHUNKING (BDAT)", ["PIPELINING", "CHUNKING", "8BITMIME"]]
    ] as const
  ) {
    it.effect(`delivers a message with ${name}`, () => {
      const server = TestSocket.smtpServer({ capabilities })
      return Effect.gen(function*() {
        const result = yield* SmtpClient.send(mail)
        expect(result.accepted).toEqual(["b@example.com"])
        expect(result.rejected).toEqual([])
        expect(result.statusCode).toBe(250)
        expect(server.received).toHaveLength(1)
        expect(decoder.decode(server.received[0]!.data)).toBe(mail.content)
        expect(server.received[0]!.via).toBe(
          (capabilities as ReadonlyArray<string> | undefined)?.includes("CHUNKING") ? "BDAT" : "DATA"
        )
        expect(server.commands.at(-1)).toBe("QUIT")
      }).pipe(Effect.provide(clientWith(server.script)))
    })
  }

  it.effect("reports a rejected recipient and delivers to the rest", () => {
    const server = TestSocket.smtpServer({
      rcpt: (address) => address.startsWith("bad") ? "550 5.1.1 no such user" : undefined
    })
    return Effect.gen(function*() {
      const result = yield* SmtpClient.send({ ...mail, to: ["bad@example.com", "good@example.com"] })
      expect(result.accepted).toEqual(["good@example.com"])
      expect(result.rejected).toEqual([{
        recipient: "bad@example.com",
        statusCode: 550,
        enhancedStatusCode: "5.1.1",
        message: "no such user"
      }])
      expect(server.received[0]!.to).toEqual(["good@example.com"])
    }).pipe(Effect.provide(clientWith(server.script)))
  })

  it.effect("fails with SmtpCommandError naming every recipient when none is accepted, then RSETs", () => {
    const server = TestSocket.smtpServer({ rcpt: () => "550 5.1.1 no such user" })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(SmtpClient.send({ ...mail, to: ["x@example.com", "y@example.com"] }))
      expect(error._tag).toBe("SmtpCommandError")
      if (error._tag !== "SmtpCommandError") return
      expect(error.statusCode).toBe(550)
      expect(error.rejectedRecipients?.map((r) => r.recipient)).toEqual(["x@example.com", "y@example.com"])
      expect(error.message).toContain("x@example.com: 550")
      expect(server.received).toHaveLength(0)
      expect(server.commands).toContain("RSET")
    }).pipe(Effect.provide(clientWith(server.script)))
  })

  it.effect("authenticates with PLAIN and never shows the password", () => {
    const server = TestSocket.smtpServer({
      capabilities: ["AUTH PLAIN LOGIN", "PIPELINING"],
      credentials: { user: "alice", password: "s3cret-value" }
    })
    return Effect.gen(function*() {
      const result = yield* SmtpClient.send(mail)
      expect(result.accepted).toEqual(["b@example.com"])
      expect(server.commands).toContain("AUTH PLAIN")
    }).pipe(Effect.provide(clientWith(server.script, {
      auth: { user: "alice", password: Redacted.make("s3cret-value") }
    })))
  })

  it.effect("a wrong password fails with AuthenticationError carrying 535", () => {
    const server = TestSocket.smtpServer({
      capabilities: ["AUTH LOGIN"],
      credentials: { user: "alice", password: "right" }
    })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(SmtpClient.send(mail))
      expect(error._tag).toBe("AuthenticationError")
      if (error._tag !== "AuthenticationError") return
      expect(error.statusCode).toBe(535)
      expect(error.mechanism).toBe("LOGIN")
      expect(error.message).not.toContain("wrong")
      expect(String(error)).not.toContain("wrong")
    }).pipe(Effect.provide(clientWith(server.script, {
      auth: { user: "alice", password: Redacted.make("wrong") }
    })))
  })

  it.effect("security starttls upgrades and says EHLO again", () => {
    const server = TestSocket.smtpServer({ capabilities: ["STARTTLS", "PIPELINING"] })
    return Effect.gen(function*() {
      yield* SmtpClient.send(mail)
      expect(server.commands.slice(0, 3)).toEqual(["EHLO [127.0.0.1]", "STARTTLS", "EHLO [127.0.0.1]"])
    }).pipe(Effect.provide(clientWith(server.script, { security: "starttls" })))
  })

  it.effect("security starttls refuses a server without STARTTLS before any MAIL", () => {
    const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(SmtpClient.send(mail))
      expect(error._tag).toBe("TlsError")
      expect(server.commands.some((c) => c.startsWith("MAIL"))).toBe(false)
    }).pipe(Effect.provide(clientWith(server.script, { security: "starttls" })))
  })

  it.effect("STARTTLS response injection: bytes after the 220 are a protocol error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(SmtpClient.send(mail))
      expect(error._tag).toBe("SmtpProtocolError")
      if (error._tag === "SmtpProtocolError") expect(error.reason).toBe("StartTlsInjection")
    }).pipe(Effect.provide(clientWith((server) =>
      Effect.gen(function*() {
        yield* server.send("220 hi\r\n")
        yield* server.readLine
        yield* server.send("250-hi\r\n250 STARTTLS\r\n")
        yield* server.readLine
        yield* server.send("220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
        yield* server.readLine
      }), { security: "starttls" }))))

  it.effect("falls back to HELO when EHLO is refused", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const result = yield* SmtpClient.send(mail).pipe(
        Effect.provide(clientWith((server) =>
          Effect.gen(function*() {
            yield* server.send("220 old server\r\n")
            const next = () => Effect.tap(server.readLine, (l) => Effect.sync(() => lines.push(l)))
            yield* next()
            yield* server.send("502 what?\r\n")
            yield* next()
            yield* server.send("250 hello\r\n")
            yield* next()
            yield* server.send("250 ok\r\n")
            yield* next()
            yield* server.send("250 ok\r\n")
            yield* next()
            yield* server.send("354 go\r\n")
            yield* server.readData
            yield* server.send("250 queued\r\n")
            yield* next()
            yield* server.send("221 bye\r\n")
          })
        ))
      )
      expect(result.response).toBe("250 queued")
      expect(lines).toEqual([
        "EHLO [127.0.0.1]",
        "HELO [127.0.0.1]",
        "MAIL FROM:<a@example.com>",
        "RCPT TO:<b@example.com>",
        "DATA",
        "QUIT"
      ])
    }))

  it.effect("bad input fails with InvalidInputError before any byte is written", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const cases = [
        { ...mail, from: "a@example.com\r\nRCPT TO:<victim@x>" },
        { ...mail, to: ["b@example.com\u0000"] },
        { ...mail, to: ["<b@example.com>"] },
        { ...mail, to: [] }
      ]
      for (const bad of cases) {
        const exit = yield* Effect.exit(SmtpClient.send(bad).pipe(Effect.provide(clientWith(server.script))))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          const [reason] = exit.cause.reasons
          const error = exit.cause.reasons.length === 1 && Cause.isFailReason(reason) ? reason.error : undefined
          expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
        }
      }
      expect(server.commands.filter((c) => c.startsWith("MAIL") || c.startsWith("RCPT"))).toEqual([])
    }))

  it.effect("refuses a message larger than the server's SIZE before MAIL", () => {
    const server = TestSocket.smtpServer({ capabilities: ["SIZE 100"] })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(SmtpClient.send({ ...mail, content: "x".repeat(200) }))
      expect(error._tag).toBe("InvalidInputError")
      expect(error.message).toContain("at most 100")
      expect(server.commands.some((c) => c.startsWith("MAIL"))).toBe(false)
    }).pipe(Effect.provide(clientWith(server.script)))
  })
})

describe("SmtpClient.checkMail", () => {
  it.effect("gives the InvalidInputError a send fails with, before any connection, and nothing for good input", () =>
    Effect.gen(function*() {
      const bad: SmtpClient.Mail = {
        from: "a@example.com",
        to: ["b@example.com\r\nRCPT TO:<c@example.com>"],
        content: "x"
      }
      const checked = SmtpClient.checkMail(bad)
      let connections = 0
      const sent = yield* SmtpClient.send(bad).pipe(
        Effect.flip,
        Effect.provide(
          scriptedClient(() => Effect.sync(() => void connections++), { host: "mail.test", port: 25, security: "none" })
        )
      )
      expect(checked).toEqual(sent)
      expect(checked?._tag).toBe("InvalidInputError")
      expect(connections).toBe(0)
      expect(SmtpClient.checkMail({ from: "", to: [], content: "x" })?.field).toBe("to")
      expect(SmtpClient.checkMail({ envelope: { from: "a@example.com", to: ["b@example.com"] }, content: "x" }))
        .toBeUndefined()
      expect(SmtpClient.checkMail({ from: "a@example.com", to: ["b@example.com"], content: "a\u0000b" })?.reason)
        .toContain("NUL octet (at octet 1)")
      expect(SmtpClient.checkMail({ from: "\"john doe\"@example.com", to: ["b@example.com"], content: "x" }))
        .toBeUndefined()
    }))
})
