/**
 * Real mail through a real MTA: our client against the Postfix instance of
 * `scripts/services/postfix.sh`, checked in the Maildir Postfix delivers into,
 * once over BDAT and once over DATA. Skipped unless EFFECT_SMTP_POSTFIX is
 * set (see test/utils/postfix.ts).
 */
import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { includesText, postfixSkipReason, type PostfixTarget, postfixTarget, waitForDelivery } from "./utils/postfix.js"

const target = postfixTarget()

const SENDER = "sender@example.com"
const USER = "smtptest@localhost"
const UNKNOWN = "nobody-here@localhost"
// scripts/services/postfix.sh aliases this UTF-8 local part to the test user.
const UTF8_USER = "δοκιμή@localhost"

const utf8 = new TextDecoder("utf-8", { fatal: true })

const uniqueToken = (): string => `effect-smtp-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`

const headers = (token: string, to: string, subject = `Postfix ${token}`): string =>
  [
    // Complete on purpose: Postfix adds a missing From, Date or Message-ID
    // among these lines, which would blur the comparison below.
    `From: effect-smtp test <${SENDER}>`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Message-ID: <${token}@effect-smtp.test>`,
    "Date: Tue, 25 Nov 2025 07:00:00 +0000",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit"
  ].join("\r\n") + "\r\n\r\n"

// Every line ending the client must normalise, and every line it must
// dot-stuff, including dot lines that only become lines through that
// normalisation (after a lone LF or a lone CR).
const trickyBody = (token: string): string =>
  `token ${token}\r\n` +
  "Grüße, 日本\r\n" +
  ".hidden\r\n" +
  "..two\r\n" +
  ".\r\n" +
  "before a lone LF\nafter the lone LF\r\n" +
  "before a lone CR\rafter the lone CR\r\n" +
  "lone LF then a dot line\n.after-lf\n.\nstill here\r\n" +
  "lone CR then a dot line\r.after-cr\r.\rstill here\r\n" +
  "last line\r\n"

/**
 * What Postfix stores for `content`: each CRLF, lone CR and lone LF is one
 * line break (CRLF on the wire, LF in the Maildir), dot-stuffing undone, and
 * a final line break the client had to add if the content lacked one.
 */
const stored = (content: string): string => {
  const lf = content.replace(/\r\n|\r|\n/g, "\n")
  return lf.endsWith("\n") ? lf : `${lf}\n`
}

/** Splits Postfix's copy into the lines Postfix prepended and the original message. */
const splitDelivered = (bytes: Uint8Array): { readonly added: string; readonly original: string } => {
  const text = utf8.decode(bytes)
  const start = text.indexOf(`\nFrom: effect-smtp test <${SENDER}>\n`)
  expect(start, `the original headers are missing from the stored message:\n${text}`).toBeGreaterThan(0)
  return { added: text.slice(0, start + 1), original: text.slice(start + 1) }
}

const expectDeliveredExactly = (bytes: Uint8Array, content: string, envelopeTo = USER) => {
  const { added, original } = splitDelivered(bytes)
  expect(added.startsWith(`Return-Path: <${SENDER}>\n`)).toBe(true)
  expect(added).toContain(`\nDelivered-To: ${envelopeTo}\n`)
  expect(original).toBe(stored(content))
  // Compared as bytes too: a string comparison alone would not show an 8-bit
  // byte the client or the server replaced.
  const expectedBytes = Buffer.from(stored(content), "utf8")
  expect(Buffer.from(bytes).subarray(bytes.byteLength - expectedBytes.byteLength).equals(expectedBytes)).toBe(true)
}

const suite = (pf: PostfixTarget, port: number) => {
  const send = (mail: { readonly to: ReadonlyArray<string>; readonly content: string | Uint8Array }) =>
    SmtpClient.send({ from: SENDER, ...mail }).pipe(
      Effect.provide(NodeSmtp.layer({ host: pf.host, port, security: "none", timeout: "15 seconds" }))
    )

  it.live("delivers headers and body intact after CRLF normalisation and dot-stuffing (string content)", () =>
    Effect.gen(function*() {
      const token = uniqueToken()
      const content = headers(token, USER) + trickyBody(token)

      const result = yield* send({ to: [USER], content })
      expect(result.accepted).toEqual([USER])
      expect(result.rejected).toEqual([])
      expect(result.response).toMatch(/queued as/)

      const delivered = yield* waitForDelivery(pf.maildir, includesText(token))
      expectDeliveredExactly(delivered, content)
      const text = utf8.decode(delivered)
      expect(text).toContain("\nGrüße, 日本\n")
      expect(text).toContain("\n.hidden\n..two\n.\n")
    }))

  it.live("delivers Uint8Array content byte for byte, adding the missing final line break", () =>
    Effect.gen(function*() {
      const token = uniqueToken()
      const content = headers(token, USER) + trickyBody(token) + "no final line break"

      const result = yield* send({ to: [USER], content: new TextEncoder().encode(content) })
      expect(result.accepted).toEqual([USER])

      const delivered = yield* waitForDelivery(pf.maildir, includesText(token))
      expectDeliveredExactly(delivered, content)
    }))

  it.live("fails with SmtpCommandError 550 when the only recipient is an unknown local user", () =>
    Effect.gen(function*() {
      const token = uniqueToken()
      const error = yield* send({ to: [UNKNOWN], content: headers(token, UNKNOWN) + "nobody reads this\r\n" }).pipe(
        Effect.flip
      )
      if (!(error instanceof SmtpError.SmtpCommandError)) {
        return expect.unreachable(`expected SmtpCommandError, got ${error._tag}: ${error.message}`)
      }
      expect(error.statusCode).toBe(550)
      expect(error.isTransient).toBe(false)
      expect(error.rejectedRecipients).toEqual([expect.objectContaining({ recipient: UNKNOWN, statusCode: 550 })])
    }))

  it.live("delivers to the good recipient and reports the unknown one as rejected (550)", () =>
    Effect.gen(function*() {
      const token = uniqueToken()
      const content = headers(token, `${USER}, ${UNKNOWN}`) + `token ${token}\r\n`

      const result = yield* send({ to: [USER, UNKNOWN], content })
      expect(result.accepted).toEqual([USER])
      expect(result.rejected).toEqual([expect.objectContaining({ recipient: UNKNOWN, statusCode: 550 })])
      expect(result.response).toMatch(/queued as/)

      const delivered = yield* waitForDelivery(pf.maildir, includesText(token))
      expectDeliveredExactly(delivered, content)
    }))

  it.live("delivers to a UTF-8 local part over SMTPUTF8", () =>
    Effect.gen(function*() {
      const token = uniqueToken()
      const content = headers(token, UTF8_USER, `Grüße ${token}`) + "Grüße, 日本\r\n"

      const result = yield* send({ to: [UTF8_USER], content })
      expect(result.accepted).toEqual([UTF8_USER])

      const delivered = yield* waitForDelivery(pf.maildir, includesText(token))
      expectDeliveredExactly(delivered, content)
      const { added } = splitDelivered(delivered)
      // Postfix records the original recipient, and names the protocol
      // UTF8SMTP only when MAIL FROM declared SMTPUTF8.
      expect(added).toContain(`\nX-Original-To: ${UTF8_USER}\n`)
      expect(added).toContain(" with UTF8SMTP")
    }))
}

describe("Postfix (real MTA)", () => {
  if (target === undefined) {
    it.skip(postfixSkipReason, () => {})
    return
  }
  // The same checks over both ways of sending the message: BDAT needs no
  // dot-stuffing, DATA does.
  describe("CHUNKING offered (BDAT)", () => suite(target, target.port))
  describe("CHUNKING hidden (DATA)", () => {
    if (target.dataPort === undefined) {
      it.skip("set EFFECT_SMTP_POSTFIX_DATA (printed by scripts/services/postfix.sh start) to run these over DATA", () => {})
    } else {
      suite(target, target.dataPort)
    }
  })
})
