/**
 * OpenSMTPD 6.8 (Debian 12's opensmtpd, run privately by
 * scripts/services/opensmtpd.sh), checked in the Maildir it delivers into.
 * It offers neither PIPELINING nor CHUNKING nor SMTPUTF8, so every command
 * waits for its reply and the body goes as DATA; its TLS cannot work with
 * OpenSSL 3 (see the TLS case). Skipped unless EFFECT_SMTP_OPENSMTPD is set.
 */
import { SmtpClient } from "@effect-smtp/client"
import { expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { oneOfTwoRefused, onlyRecipientRefused, successReport, volumeTests } from "./cases.js"
import { clientLayer, send, wire } from "./client.js"
import {
  expectStoredCopy,
  headers,
  type LineEnd,
  plainBody,
  SENDER,
  takeOneStored,
  trickyBody,
  uniqueToken,
  USER,
  UTF8_USER
} from "./mail.js"
import { describeServer, opensmtpd, readCa } from "./servers.js"

/** OpenSMTPD's mail.maildir writes LF line ends. */
const lineEnd: LineEnd = "\n"

describeServer("OpenSMTPD 6.8 (real MTA)", opensmtpd, (server) => {
  const { maildir, plain } = server

  it.live("a plain ASCII message is stored intact", () =>
    Effect.gen(function*() {
      const since = Date.now()
      const token = uniqueToken("osmtpd-plain")
      const content = headers(token) + plainBody(token)
      const result = yield* send(plain, { from: SENDER, to: [USER], content })
      expect(result.accepted).toEqual([USER])
      expect(result.response).toMatch(/Message accepted for delivery/)
      const stored = yield* takeOneStored(maildir, token, { since })
      const { added } = expectStoredCopy(stored, content, lineEnd)
      expect(added).toContain(`Return-Path: <${SENDER}>\n`)
      expect(added).toContain(`Delivered-To: ${USER}\n`)
    }))

  it.live("dots, lone LF/CR and 8-bit text go as DATA, dot-stuffed, one command per round trip, and are stored after normalisation", () =>
    Effect.gen(function*() {
      const since = Date.now()
      const token = uniqueToken("osmtpd-tricky")
      const content = headers(token) + trickyBody(token)
      const sent = wire()
      yield* SmtpClient.send({ from: SENDER, to: [USER], content }).pipe(
        Effect.provide(clientLayer(plain, {}, sent.onWrite))
      )
      const onWire = sent.text()
      expect(onWire).toMatch(/MAIL FROM:<[^>]*>[^\r]* BODY=8BITMIME/)
      expect(onWire).toContain("\r\nDATA\r\n")
      expect(onWire).toContain("\r\n..a line that starts with a dot\r\n")
      expect(onWire).not.toContain("BDAT")
      // No PIPELINING offered: MAIL, RCPT and DATA each went in a write of its own.
      const writeWith = (command: string) => sent.writes().filter((write) => write.includes(command))
      expect(writeWith("MAIL FROM:")).toHaveLength(1)
      expect(writeWith("MAIL FROM:")[0]).not.toContain("RCPT TO:")
      expect(writeWith("RCPT TO:")).toHaveLength(1)
      expect(writeWith("RCPT TO:")[0]).not.toContain("DATA\r\n")
      const stored = yield* takeOneStored(maildir, token, { since })
      expectStoredCopy(stored, content, lineEnd)
    }))

  it.live("delivers to the known recipient and reports the unknown one (550)", () =>
    oneOfTwoRefused({ endpoint: plain, maildir, lineEnd }, "osmtpd-partial", { statusCode: 550 }))

  it.live("fails with SmtpCommandError 550 when the only recipient is unknown", () =>
    onlyRecipientRefused({ endpoint: plain, maildir, lineEnd }, "osmtpd-unknown", 550))

  it.live("a UTF-8 recipient fails with InvalidInputError before MAIL: OpenSMTPD 6.8 offers no SMTPUTF8", () =>
    Effect.gen(function*() {
      const token = uniqueToken("osmtpd-utf8")
      const sent = wire()
      const error = yield* Effect.flip(
        SmtpClient.send({ from: SENDER, to: [UTF8_USER], content: headers(token) + plainBody(token) }).pipe(
          Effect.provide(clientLayer(plain, {}, sent.onWrite))
        )
      )
      expect(error).toMatchObject({ _tag: "InvalidInputError", field: "to" })
      expect(error.message).toContain("SMTPUTF8")
      expect(sent.text()).not.toContain("MAIL FROM")
    }))

  it.live("NOTIFY=SUCCESS: OpenSMTPD sends a success report for the recipient", () =>
    Effect.gen(function*() {
      const { report } = yield* successReport({ endpoint: plain, maildir, lineEnd }, "osmtpd-dsn")
      expect(report).toContain("Subject: Delivery status notification: delivered")
      expect(report).toContain(`\nFinal-Recipient: rfc822; ${USER}\n`)
      expect(report).toContain("\nAction: delivered\n")
      // OpenSMTPD 6.8 leaves Original-Envelope-ID out of the report (a
      // server limit, listed in docs/interop.md), so the ENVID is not checked.
    }))

  it.live("STARTTLS: the handshake fails with an internal-error alert (Debian 12's OpenSMTPD with OpenSSL 3), a TlsError that points at the server", () =>
    Effect.gen(function*() {
      const token = uniqueToken("osmtpd-tls")
      const error = yield* Effect.flip(
        send(server.startTls, { from: SENDER, to: [USER], content: headers(token) + plainBody(token) }, {
          security: "starttls",
          tls: { ca: readCa(server.ca), servername: "localhost" }
        })
      )
      expect(error).toMatchObject({
        _tag: "TlsError",
        reason: "ServerInternalError",
        code: "ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR"
      })
      expect(error.message).toContain("server's operator")
    }))

  volumeTests({ endpoint: plain, maildir, lineEnd }, "osmtpd", "over DATA")
})
