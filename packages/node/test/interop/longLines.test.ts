/**
 * Lines over 998 octets (RFC 5322 §2.1.1), against real servers. As measured
 * (see the README): Exim 4.96, OpenSMTPD 6.8 and Postfix 3.7 store such a
 * line intact when they deliver locally; Postfix folds it at 998 with
 * CRLF SPACE when it relays it on over SMTP (smtp_line_length_limit, 990
 * before Postfix 3.9 upstream), which breaks a signature; aiosmtpd 1.4
 * refuses any line over 999 octets with `500 Line too long` after the whole
 * message. So the client must refuse such a message itself, before any byte
 * is written, naming the line and saying to encode the body; a streamed body
 * that turns out to hold one must end without the final dot, so the server
 * never stores half a message; and `allowLongLines: true` sends it anyway.
 *
 * Exim is the server here because it would store the line intact: whatever
 * it refuses or never stores, the client refused or cut off. Skipped unless
 * EFFECT_SMTP_EXIM is set (the aiosmtpd case: EFFECT_SMTP_AIOSMTPD).
 */
import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs/promises"
import { clientLayer, type ClientOptions, wire } from "./client.js"
import {
  chunked,
  expectNothingStored,
  expectStoredCopy,
  headers,
  type LineEnd,
  SENDER,
  takeOneStored,
  uniqueToken,
  USER
} from "./mail.js"
import { aiosmtpd, describeServer, type Endpoint, exim, readCa } from "./servers.js"

const eximLineEnd: LineEnd = "\n"

/** The 1-based number of the line that starts at `offset` of `text`. */
const lineNumberAt = (text: string, offset: number): number => text.slice(0, offset).split(/\r\n|\r|\n/).length

/**
 * Headers, a few ordinary lines, a line of `length` octets, more lines; and
 * the number of that line in the message (headers counted).
 */
const messageWithLine = (token: string, length: number): { readonly content: string; readonly line: number } => {
  const before = headers(token) + `token ${token}\r\nan ordinary line\r\n`
  const long = "x".repeat(length - 1) + "!"
  return {
    content: before + long + "\r\nthe line after it\r\n",
    line: lineNumberAt(before, before.length)
  }
}

/** A `mail` that may carry options the client's types do not know yet (no excess-property check). */
const sendMail = (
  endpoint: Endpoint,
  mail: SmtpClient.Mail,
  options: ClientOptions,
  onWrite?: (b: Uint8Array) => void
) => SmtpClient.send(mail).pipe(Effect.provide(clientLayer(endpoint, options, onWrite)))

const expectLongLineError = (error: unknown, line: number) => {
  if (!(error instanceof SmtpError.InvalidInputError)) {
    return expect.unreachable(`expected InvalidInputError, got ${String(error)}`)
  }
  expect(error.message).toMatch(new RegExp(`\\bline ${line}\\b`))
  expect(error.message).toMatch(/encod/i)
  expect(error.retryable).toBe(false)
}

describeServer("lines over 998 octets", exim, (eximServer) => {
  const { maildir } = eximServer

  it.live("a 998-octet line is within the limit: sent and stored intact", () =>
    Effect.gen(function*() {
      const since = Date.now()
      const token = uniqueToken("long-998")
      const { content } = messageWithLine(token, 998)
      yield* sendMail(eximServer.data, { from: SENDER, to: [USER], content }, {})
      const stored = yield* takeOneStored(maildir, token, { since })
      expectStoredCopy(stored, content, eximLineEnd)
    }))

  const rawCases = [
    ["string", (content: string): string | Uint8Array => content],
    ["Uint8Array", (content: string): string | Uint8Array => new TextEncoder().encode(content)]
  ] as const
  for (const [kind, asContent] of rawCases) {
    it.live(`raw ${kind} content with a 999-octet body line fails with InvalidInputError naming the line, before any byte is written`, () =>
      Effect.gen(function*() {
        const since = Date.now()
        const token = uniqueToken("long-raw")
        const { content, line } = messageWithLine(token, 999)
        const sent = wire()
        const error = yield* Effect.flip(
          sendMail(eximServer.data, { from: SENDER, to: [USER], content: asContent(content) }, {}, sent.onWrite)
        )
        expectLongLineError(error, line)
        expect(sent.writes(), "bytes were written before the check").toEqual([])
        yield* expectNothingStored(maildir, token, { since, waitMs: 500 })
      }))
  }

  it.live("a header line over 998 octets fails the same way (line 3, the Subject)", () =>
    Effect.gen(function*() {
      const token = uniqueToken("long-header")
      const content = headers(token, { subject: `${token} ${"s".repeat(990)}` }) + "body\r\n"
      const sent = wire()
      const error = yield* Effect.flip(
        sendMail(eximServer.data, { from: SENDER, to: [USER], content }, {}, sent.onWrite)
      )
      expectLongLineError(error, 3)
      expect(sent.writes()).toEqual([])
    }))

  const streamed = (endpoint: Endpoint, listener: string, endOfMessage: RegExp) =>
    it.live(`a streamed body (${listener}) that turns out to hold a 999-octet line fails with the same error; the connection ends without the end of the message and Exim stores nothing`, () =>
      Effect.gen(function*() {
        const since = Date.now()
        const token = uniqueToken("long-stream")
        const ehloName = `${token}.test`
        // 200 kB of ordinary lines first, so the message is well under way
        // when the long line comes.
        const prefix = headers(token) + `token ${token}\r\n` + "an ordinary line of text\r\n".repeat(8_000)
        const { content: tail } = messageWithLine(`${token}-tail`, 999)
        const content = Buffer.from(prefix + tail.slice(tail.indexOf("\r\n\r\n") + 4), "utf8")
        const line = lineNumberAt(content.toString("utf8"), content.indexOf("x".repeat(998)))
        const sent = wire()
        const error = yield* Effect.flip(
          sendMail(
            endpoint,
            { from: SENDER, to: [USER], content: chunked(content, 16_381) },
            { ehloName },
            sent.onWrite
          )
        )
        expectLongLineError(error, line)
        const onWire = sent.text()
        // The message was under way, and its end never went out.
        expect(onWire).toContain("token " + token)
        expect(onWire).not.toMatch(endOfMessage)
        yield* expectNothingStored(maildir, token, { since, waitMs: 1_500 })
        const log = yield* Effect.promise(() => Fs.readFile(eximServer.log, "utf8"))
        expect(log).toContain(`SMTP connection from (${ehloName}) [127.0.0.1] lost while reading message data`)
      }))
  streamed(eximServer.data, "DATA", /\r\n\.\r\n/)
  streamed(eximServer.bdat, "BDAT", /BDAT \d+ LAST/)

  it.live("allowLongLines: true sends the 999-octet line anyway, and Exim stores it intact", () =>
    Effect.gen(function*() {
      const since = Date.now()
      const token = uniqueToken("long-allowed")
      const { content } = messageWithLine(token, 999)
      const mail = { from: SENDER, to: [USER], content, allowLongLines: true }
      yield* sendMail(eximServer.data, mail, {})
      const stored = yield* takeOneStored(maildir, token, { since })
      expectStoredCopy(stored, content, eximLineEnd)
      expect(stored.toString("utf8")).toContain(`\n${"x".repeat(998)}!\n`)
    }))

  describeServer("aiosmtpd refuses long lines itself", aiosmtpd, (aiosmtpdServer) => {
    it.live("allowLongLines: true against aiosmtpd: the server's own 500 Line too long is a SmtpCommandError, nothing stored", () =>
      Effect.gen(function*() {
        const since = Date.now()
        const token = uniqueToken("long-aiosmtpd")
        const { content } = messageWithLine(token, 1_000)
        const mail = { from: SENDER, to: [USER], content, allowLongLines: true }
        const error = yield* Effect.flip(
          sendMail(aiosmtpdServer.submission, mail, {
            security: "starttls",
            tls: { ca: readCa(aiosmtpdServer.ca), servername: "localhost" }
          })
        )
        expect(error).toMatchObject({ _tag: "SmtpCommandError", statusCode: 500 })
        expect(error.message).toContain("Line too long")
        yield* expectNothingStored(aiosmtpdServer.maildir, token, { since, waitMs: 500 })
      }))
  })
})
