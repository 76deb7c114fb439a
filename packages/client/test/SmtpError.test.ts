/**
 * The error classes as Effect Schemas: what their constructors check, and
 * that each encodes and decodes as itself (the outbox stores them so).
 */
import { SmtpError } from "@effect-smtp/client"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

const socket = new SmtpError.SocketError({ operation: "read", host: "mx.example", port: 25, code: "ECONNRESET" })
const refusal = new SmtpError.SmtpCommandError({
  command: "RCPT TO",
  statusCode: 550,
  enhancedStatusCode: "5.1.1",
  serverMessage: "no such user",
  rejectedRecipients: [{ recipient: "a@example.org", statusCode: 550, enhancedStatusCode: "5.1.1", message: "no" }]
})

describe("SmtpError classes as Schemas", () => {
  it("stay Errors and SmtpErrors with their tag, name and message", () => {
    expect(socket).toBeInstanceOf(Error)
    expect(socket).toBeInstanceOf(SmtpError.SocketError)
    expect(SmtpError.isSmtpError(socket)).toBe(true)
    expect(socket._tag).toBe("SocketError")
    expect(socket.name).toBe("SocketError")
    expect(socket.socketError).toBe(10054)
    expect(String(socket)).toBe(`SocketError: ${socket.message}`)
  })

  it("refuse a field of the wrong kind when built", () => {
    const build = (fields: unknown) => new SmtpError.SocketError(fields as SmtpError.SocketError)
    expect(() => build({ operation: "listen", host: "h", port: 25 })).toThrow()
    expect(() => build({ operation: "read", host: "h", port: "25" })).toThrow()
  })

  it("check that a recipient list is a list when built, and every entry only when decoded", () => {
    // Built by the client from replies it parsed: checking each of a long list of refusals would cost
    // about 0.3 µs apiece, on every failed message.
    const entries = [{ recipient: 1 }] as unknown as ReadonlyArray<SmtpError.RecipientRejection>
    const fields = { command: "RCPT TO", statusCode: 550, serverMessage: "no" }
    expect(() => new SmtpError.SmtpCommandError({ ...fields, rejectedRecipients: entries })).not.toThrow()
    expect(() =>
      new SmtpError.SmtpCommandError({
        ...fields,
        rejectedRecipients: "a@example.org" as unknown as ReadonlyArray<SmtpError.RecipientRejection>
      })
    ).toThrow()
    const decode = Schema.decodeUnknownSync(SmtpError.SmtpCommandError)
    expect(() => decode({ _tag: "SmtpCommandError", ...fields, rejectedRecipients: entries })).toThrow()
  })

  it("encode and decode as themselves, a timeout as milliseconds and a cause as its own class", () => {
    const timeout = new SmtpError.TimeoutError({ operation: "DATA", timeout: Duration.millis(250) })
    const encodeTimeout = Schema.encodeSync(SmtpError.TimeoutError)
    expect(encodeTimeout(timeout)).toEqual({ _tag: "TimeoutError", operation: "DATA", timeout: 250 })
    const read = Schema.decodeUnknownSync(SmtpError.TimeoutError)(encodeTimeout(timeout))
    expect(read).toBeInstanceOf(SmtpError.TimeoutError)
    expect(read.message).toBe(timeout.message)

    const unknown = new SmtpError.DeliveryUnknownError({ cause: timeout, recipients: ["a@example.org"] })
    const codec = SmtpError.DeliveryUnknownError
    const again = Schema.decodeUnknownSync(codec)(Schema.encodeSync(codec)(unknown))
    expect(again.cause).toBeInstanceOf(SmtpError.TimeoutError)
    expect(again.message).toBe(unknown.message)

    const refused = Schema.decodeUnknownSync(SmtpError.SmtpCommandError)(
      Schema.encodeSync(SmtpError.SmtpCommandError)(refusal)
    )
    expect(refused.rejectedRecipients).toEqual(refusal.rejectedRecipients)
    expect(refused.message).toBe(refusal.message)
  })

  it("go through JSON (Schema.toCodecJson), an OS cause as an error's name and message", () => {
    const os = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:25"), { code: "ECONNREFUSED" })
    const failed = new SmtpError.SocketError({
      operation: "connect",
      host: "mx",
      port: 25,
      code: "ECONNREFUSED",
      cause: os
    })
    const json = Schema.toCodecJson(SmtpError.SocketError)
    const text = JSON.stringify(Schema.encodeSync(json)(failed))
    const read = Schema.decodeUnknownSync(json)(JSON.parse(text))
    expect(read).toBeInstanceOf(SmtpError.SocketError)
    expect(read.message).toBe(failed.message)
    expect(read.socketError).toBe(10061)
    expect(read.cause).toBeInstanceOf(Error)
    expect((read.cause as Error).message).toBe(os.message)
  })
})
