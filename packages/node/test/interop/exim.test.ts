/**
 * Exim 4.96 (Debian's exim4-daemon-light, run privately by
 * scripts/services/exim.sh), checked in the Maildir it delivers into. The
 * message cases run over both listeners, CHUNKING offered (BDAT) and hidden
 * (DATA, so dot-stuffing is on the wire); TLS, AUTH and the volume cases run
 * once. Skipped unless EFFECT_SMTP_EXIM is set.
 */
import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
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
import { credentials, describeServer, type Endpoint, exim, readCa } from "./servers.js"

/** Exim's appendfile transport writes LF line ends into the Maildir. */
const lineEnd: LineEnd = "\n"

describeServer("Exim 4.96 (real MTA)", exim, (server) => {
  const { maildir } = server
  const ca = readCa(server.ca)
  const password = Redacted.make(credentials.password)

  const messageCases = (endpoint: Endpoint, chunking: boolean) => {
    it.live("a plain ASCII message is stored intact", () =>
      Effect.gen(function*() {
        const since = Date.now()
        const token = uniqueToken("exim-plain")
        const content = headers(token) + plainBody(token)
        const result = yield* send(endpoint, { from: SENDER, to: [USER], content })
        expect(result.accepted).toEqual([USER])
        expect(result.response).toMatch(/OK id=/)
        const stored = yield* takeOneStored(maildir, token, { since })
        const { added } = expectStoredCopy(stored, content, lineEnd)
        expect(added).toContain(`Return-path: <${SENDER}>\n`)
        expect(added).toContain(`Envelope-to: ${USER}\n`)
      }))

    it.live(
      `dots, lone LF/CR and 8-bit text are stored after normalisation; MAIL says BODY=8BITMIME and the body goes ${
        chunking ? "as BDAT" : "as DATA, dot-stuffed"
      }`,
      () =>
        Effect.gen(function*() {
          const since = Date.now()
          const token = uniqueToken("exim-tricky")
          const content = headers(token) + trickyBody(token)
          const sent = wire()
          yield* SmtpClient.send({ from: SENDER, to: [USER], content: new TextEncoder().encode(content) }).pipe(
            Effect.provide(clientLayer(endpoint, {}, sent.onWrite))
          )
          const onWire = sent.text()
          expect(onWire).toContain(`MAIL FROM:<${SENDER}>`)
          expect(onWire).toMatch(/MAIL FROM:<[^>]*>[^\r]* BODY=8BITMIME/)
          if (chunking) {
            expect(onWire).toMatch(/\r\nBDAT \d+ LAST\r\n/)
            expect(onWire).not.toContain("\r\nDATA\r\n")
          } else {
            expect(onWire).toContain("\r\nDATA\r\n")
            expect(onWire).toContain("\r\n..a line that starts with a dot\r\n")
            expect(onWire).toContain("\r\n..\r\n")
          }
          const stored = yield* takeOneStored(maildir, token, { since })
          expectStoredCopy(stored, content, lineEnd)
        })
    )

    it.live("delivers to the known recipient and reports the unknown one (550 5.1.1)", () =>
      oneOfTwoRefused({ endpoint, maildir, lineEnd }, "exim-partial", { statusCode: 550, enhancedStatusCode: "5.1.1" }))

    it.live("fails with SmtpCommandError 550 when the only recipient is unknown", () =>
      onlyRecipientRefused({ endpoint, maildir, lineEnd }, "exim-unknown", 550))

    it.live("delivers to a UTF-8 local part over SMTPUTF8 (Exim records utf8esmtp)", () =>
      Effect.gen(function*() {
        const since = Date.now()
        const token = uniqueToken("exim-utf8")
        const content = headers(token, { to: UTF8_USER, subject: `Grüße ${token}` }) + plainBody(token)
        const result = yield* send(endpoint, { from: SENDER, to: [UTF8_USER], content })
        expect(result.accepted).toEqual([UTF8_USER])
        const stored = yield* takeOneStored(maildir, token, { since })
        const { added } = expectStoredCopy(stored, content, lineEnd)
        expect(added).toContain(`Envelope-to: ${UTF8_USER}\n`)
        expect(added).toMatch(/ with utf8esmtp/)
      }))

    it.live("NOTIFY=SUCCESS with an ENVID: Exim's success report names the envelope ID and the recipient", () =>
      Effect.gen(function*() {
        const { envid, report } = yield* successReport({ endpoint, maildir, lineEnd }, "exim-dsn")
        expect(report).toMatch(/^Return-path: <>\n/)
        expect(report).toContain("Content-Type: multipart/report; report-type=delivery-status")
        expect(report).toContain(`\nOriginal-Envelope-ID: ${envid}\n`)
        expect(report).toContain(`\nOriginal-Recipient: rfc822;${USER}\n`)
        expect(report).toContain("\nAction: delivered\n")
        expect(report).toContain(`\nFinal-Recipient: rfc822;${USER}\n`)
      }))
  }

  describe("CHUNKING offered (BDAT)", () => messageCases(server.bdat, true))
  describe("CHUNKING hidden (DATA)", () => messageCases(server.data, false))

  describe("TLS and AUTH", () => {
    const authenticated = (mechanism: "PLAIN" | "LOGIN") =>
      it.live(`STARTTLS with the private CA, then AUTH ${mechanism}: Exim records an authenticated TLS session`, () =>
        Effect.gen(function*() {
          const since = Date.now()
          const token = uniqueToken(`exim-auth-${mechanism.toLowerCase()}`)
          const content = headers(token) + plainBody(token)
          const result = yield* send(server.bdat, { from: SENDER, to: [USER], content }, {
            security: "starttls",
            tls: { ca, servername: "localhost" },
            auth: { user: credentials.user, password, mechanism }
          })
          expect(result.accepted).toEqual([USER])
          const stored = yield* takeOneStored(maildir, token, { since })
          const { added } = expectStoredCopy(stored, content, lineEnd)
          // esmtpsa: ESMTP, secured (TLS), authenticated.
          expect(added).toMatch(/ with esmtpsa /)
        }))
    authenticated("PLAIN")
    authenticated("LOGIN")

    it.live("a wrong password is AuthenticationError 535, and the password is in no message", () =>
      Effect.gen(function*() {
        const token = uniqueToken("exim-badauth")
        const wrong = `wrong-${token}`
        const error = yield* Effect.flip(
          send(server.bdat, { from: SENDER, to: [USER], content: headers(token) + plainBody(token) }, {
            security: "starttls",
            tls: { ca, servername: "localhost" },
            auth: { user: credentials.user, password: Redacted.make(wrong) }
          })
        )
        if (!(error instanceof SmtpError.AuthenticationError)) {
          return expect.unreachable(`expected AuthenticationError, got ${error._tag}: ${error.message}`)
        }
        expect(error.statusCode).toBe(535)
        expect(error.retryable).toBe(false)
        expect(`${error.message} ${JSON.stringify(error)}`).not.toContain(wrong)
      }))

    it.live("implicit TLS on the SMTPS listener", () =>
      Effect.gen(function*() {
        const since = Date.now()
        const token = uniqueToken("exim-smtps")
        const content = headers(token) + plainBody(token)
        yield* send(server.tls, { from: SENDER, to: [USER], content }, {
          security: "tls",
          tls: { ca, servername: "localhost" }
        })
        const stored = yield* takeOneStored(maildir, token, { since })
        const { added } = expectStoredCopy(stored, content, lineEnd)
        expect(added).toMatch(/ with esmtps /)
      }))

    it.live("a certificate from a CA the client does not trust: TlsError CertificateRejected", () =>
      Effect.gen(function*() {
        const token = uniqueToken("exim-untrusted")
        const error = yield* Effect.flip(
          send(server.bdat, { from: SENDER, to: [USER], content: headers(token) + plainBody(token) }, {
            security: "starttls",
            tls: { servername: "localhost" }
          })
        )
        expect(error).toMatchObject({ _tag: "TlsError", reason: "CertificateRejected" })
      }))
  })

  volumeTests({ endpoint: server.bdat, maildir, lineEnd }, "exim", "over BDAT")
})
