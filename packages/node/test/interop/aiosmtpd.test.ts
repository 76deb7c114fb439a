/**
 * aiosmtpd 1.4 (Debian's python3-aiosmtpd, served by
 * scripts/services/aiosmtpd/server.py), checked in the Maildir its handler
 * writes: the bytes exactly as aiosmtpd received them (CRLF, dot-stuffing
 * undone) under X-Aiosmtpd-* lines saying what the server saw. It offers
 * STARTTLS, AUTH after STARTTLS, SMTPUTF8 and 8BITMIME, but neither
 * PIPELINING, CHUNKING nor DSN. Skipped unless EFFECT_SMTP_AIOSMTPD is set.
 */
import { SmtpError } from "@effect-smtp/client"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { volumeTests } from "./cases.js"
import { type ClientOptions, send } from "./client.js"
import {
  expectNothingStored,
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
import { aiosmtpd, credentials, describeServer, readCa } from "./servers.js"

/** aiosmtpd hands the handler the message with its CRLF line ends. */
const lineEnd: LineEnd = "\r\n"

describeServer("aiosmtpd 1.4 (real server library)", aiosmtpd, (server) => {
  const { maildir } = server
  const tls = { ca: readCa(server.ca), servername: "localhost" }
  const password = Redacted.make(credentials.password)
  const startTls: ClientOptions = { security: "starttls", tls }
  const submission: ClientOptions = { ...startTls, auth: { user: credentials.user, password } }

  const trace = (added: string, name: string): ReadonlyArray<string> =>
    added.split("\r\n").flatMap((line) => line.startsWith(`X-Aiosmtpd-${name}: `) ? [line.slice(name.length + 13)] : [])

  it.live("a plain ASCII message over STARTTLS is stored intact", () =>
    Effect.gen(function*() {
      const since = Date.now()
      const token = uniqueToken("aio-plain")
      const content = headers(token) + plainBody(token)
      const result = yield* send(server.submission, { from: SENDER, to: [USER], content }, startTls)
      expect(result.accepted).toEqual([USER])
      const stored = yield* takeOneStored(maildir, token, { since })
      const { added } = expectStoredCopy(stored, content, lineEnd)
      expect(trace(added, "Tls")).toEqual([expect.stringMatching(/^TLSv1\.[23]$/)])
      expect(trace(added, "Auth")).toEqual(["none"])
    }))

  it.live("dots, lone LF/CR and 8-bit text are stored as received after normalisation, with BODY=8BITMIME", () =>
    Effect.gen(function*() {
      const since = Date.now()
      const token = uniqueToken("aio-tricky")
      const content = headers(token) + trickyBody(token)
      yield* send(server.submission, { from: SENDER, to: [USER], content }, startTls)
      const stored = yield* takeOneStored(maildir, token, { since })
      const { added } = expectStoredCopy(stored, content, lineEnd)
      expect(trace(added, "Mail-Options")[0]).toContain("BODY=8BITMIME")
    }))

  const authenticated = (mechanism: "PLAIN" | "LOGIN") =>
    it.live(`STARTTLS with the private CA, then AUTH ${mechanism}: the server saw the authenticated user`, () =>
      Effect.gen(function*() {
        const since = Date.now()
        const token = uniqueToken(`aio-auth-${mechanism.toLowerCase()}`)
        const content = headers(token) + plainBody(token)
        yield* send(server.submission, { from: SENDER, to: [USER], content }, {
          ...startTls,
          auth: { user: credentials.user, password, mechanism }
        })
        const stored = yield* takeOneStored(maildir, token, { since })
        const { added } = expectStoredCopy(stored, content, lineEnd)
        expect(trace(added, "Auth")).toEqual([credentials.user])
      }))
  authenticated("PLAIN")
  authenticated("LOGIN")

  it.live("a wrong password is AuthenticationError 535 5.7.8", () =>
    Effect.gen(function*() {
      const token = uniqueToken("aio-badauth")
      const error = yield* Effect.flip(
        send(server.submission, { from: SENDER, to: [USER], content: headers(token) + plainBody(token) }, {
          ...startTls,
          auth: { user: credentials.user, password: Redacted.make(`wrong-${token}`) }
        })
      )
      if (!(error instanceof SmtpError.AuthenticationError)) {
        return expect.unreachable(`expected AuthenticationError, got ${error._tag}: ${error.message}`)
      }
      expect(error.statusCode).toBe(535)
      expect(error.enhancedStatusCode).toBe("5.7.8")
      expect(error.message).not.toContain(`wrong-${token}`)
    }))

  it.live("implicit TLS with AUTH on the SMTPS listener", () =>
    Effect.gen(function*() {
      const since = Date.now()
      const token = uniqueToken("aio-smtps")
      const content = headers(token) + plainBody(token)
      yield* send(server.tls, { from: SENDER, to: [USER], content }, { ...submission, security: "tls" })
      const stored = yield* takeOneStored(maildir, token, { since })
      const { added } = expectStoredCopy(stored, content, lineEnd)
      expect(trace(added, "Listener")).toEqual(["smtps"])
      expect(trace(added, "Auth")).toEqual([credentials.user])
    }))

  it.live("a UTF-8 recipient goes over SMTPUTF8", () =>
    Effect.gen(function*() {
      const since = Date.now()
      const token = uniqueToken("aio-utf8")
      const content = headers(token, { to: UTF8_USER, subject: `Grüße ${token}` }) + plainBody(token)
      const result = yield* send(server.submission, { from: SENDER, to: [UTF8_USER], content }, submission)
      expect(result.accepted).toEqual([UTF8_USER])
      const stored = yield* takeOneStored(maildir, token, { since })
      const { added } = expectStoredCopy(stored, content, lineEnd)
      expect(trace(added, "Rcpt-To")).toEqual([`<${UTF8_USER}>`])
      expect(trace(added, "Mail-Options")[0]?.split(" ")).toContain("SMTPUTF8")
    }))

  it.live("DSN asked of a server that does not offer it: the parameters are left out and the message is delivered", () =>
    Effect.gen(function*() {
      const since = Date.now()
      const token = uniqueToken("aio-nodsn")
      const content = headers(token) + plainBody(token)
      // The handler refuses any RCPT parameter (555), so a NOTIFY sent anyway would fail the send.
      yield* send(server.submission, {
        from: SENDER,
        to: [USER],
        content,
        dsn: { notify: ["SUCCESS"], envid: token, ret: "HDRS" }
      }, startTls)
      const stored = yield* takeOneStored(maildir, token, { since })
      const { added } = expectStoredCopy(stored, content, lineEnd)
      expect(trace(added, "Mail-Options")[0]).not.toMatch(/ENVID|RET=/)
    }))

  describe("a server that refuses every second recipient", () => {
    it.live("delivers to the 1st and 3rd and reports the 2nd (550 5.1.1)", () =>
      Effect.gen(function*() {
        const since = Date.now()
        const token = uniqueToken("aio-every-second")
        const to = ["first@localhost", "second@localhost", "third@localhost"]
        const content = headers(token, { to: to.join(", ") }) + plainBody(token)
        const result = yield* send(server.refusing, { from: SENDER, to, content })
        expect(result.accepted).toEqual(["first@localhost", "third@localhost"])
        expect(result.rejected).toEqual([
          expect.objectContaining({ recipient: "second@localhost", statusCode: 550, enhancedStatusCode: "5.1.1" })
        ])
        const stored = yield* takeOneStored(maildir, token, { since })
        const { added } = expectStoredCopy(stored, content, lineEnd)
        expect(trace(added, "Rcpt-To")).toEqual(["<first@localhost>", "<third@localhost>"])
      }))

    it.live("partialDelivery \"abort\": the send fails and the server stores nothing", () =>
      Effect.gen(function*() {
        const since = Date.now()
        const token = uniqueToken("aio-abort")
        const to = ["first@localhost", "second@localhost"]
        const error = yield* Effect.flip(
          send(server.refusing, { from: SENDER, to, content: headers(token) + plainBody(token) }, {
            partialDelivery: "abort"
          })
        )
        expect(error).toMatchObject({ _tag: "SmtpCommandError" })
        yield* expectNothingStored(maildir, token, { since, waitMs: 1_000 })
      }))
  })

  volumeTests(
    { endpoint: server.submission, maildir, lineEnd, options: submission },
    "aio",
    "over DATA after STARTTLS and AUTH"
  )
})
