import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { smtpServer } from "@effect-smtp/test-utils/smtpServer"
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { SMTPServerDataStream, SMTPServerSession } from "smtp-server"
import { includesText, postfixSkipReason, postfixTarget, waitForDelivery } from "./utils/postfix.js"

/**
 * What the client must refuse, against smtp-server (npm) on loopback: a
 * streamed body past the server's SIZE, NUL in a body, an 8-bit body to a
 * server without 8BITMIME, REQUIRETLS over a certificate that was not
 * verified (RFC 8689 §4.2.1); and the quoted local parts it must send.
 */

const send = <E = never>(options: SmtpClient.Options, mail: SmtpClient.Mail<E>) =>
  SmtpClient.send(mail).pipe(Effect.provide(NodeSmtp.layer(options)))

const plain = (port: number): SmtpClient.Options => ({ host: "127.0.0.1", port, security: "none" })

const encoder = new TextEncoder()

/** Counts the MAIL commands the server saw, and the body octets it was handed, ended or not. */
const watched = () => {
  const seen = { mail: 0, bodyOctets: 0, ended: 0 }
  return {
    seen,
    hooks: {
      onMailFrom: (_address: unknown, _session: SMTPServerSession, callback: (error?: Error | null) => void) => {
        seen.mail++
        callback()
      },
      onData: (stream: SMTPServerDataStream, _session: SMTPServerSession, callback: (error?: Error | null) => void) => {
        stream.on("data", (chunk: Buffer) => {
          seen.bodyOctets += chunk.length
        })
        stream.on("end", () => {
          seen.ended++
          callback(null)
        })
      }
    }
  }
}

const untilClosed = (connections: Effect.Effect<number>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200 && (yield* connections) > 0; i++) yield* Effect.sleep("10 millis")
    return yield* connections
  })

describe("a streamed body past SIZE (smtp-server size: 100000)", () => {
  it.live("144 KB streamed without size: cut just past 100000 octets with InvalidInputError; the server ends no message", () =>
    Effect.gen(function*() {
      const { seen, hooks } = watched()
      const server = yield* smtpServer({ hideSTARTTLS: true, size: 100_000, ...hooks })
      let pulled = 0
      // 144 chunks of 1000 octets (998 and CRLF): the 144 KB.
      const content = Stream.fromIterable(Array.from({ length: 144 }, () => encoder.encode("x".repeat(998) + "\r\n")))
        .pipe(Stream.tap(() =>
          Effect.sync(() => {
            pulled++
          })
        ))
      const error = yield* Effect.flip(
        send(plain(server.port), { from: "a@example.com", to: ["b@example.com"], content })
      )
      expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
      expect(error._tag === "InvalidInputError" && error.field).toBe("content")
      expect(error.message).toContain("SIZE 100000")
      expect(pulled).toBe(101)
      expect(yield* untilClosed(server.connections)).toBe(0)
      expect(seen.mail).toBe(1)
      expect(seen.bodyOctets).toBeLessThanOrEqual(100_000)
      expect(seen.ended).toBe(0)
      expect(server.received).toHaveLength(0)
    }))

  it.live("the same stream within SIZE is delivered whole", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true, size: 200_000 })
      const content = Stream.fromIterable(Array.from({ length: 144 }, () => encoder.encode("x".repeat(998) + "\r\n")))
      yield* send(plain(server.port), { from: "a@example.com", to: ["b@example.com"], content })
      expect(server.received).toHaveLength(1)
      expect(server.received[0]!.size).toBe(144_000)
    }))
})

describe("NUL octets (smtp-server)", () => {
  it.live("a string body with NUL: InvalidInputError, and no connection is made", () =>
    Effect.gen(function*() {
      const { seen, hooks } = watched()
      const server = yield* smtpServer({ hideSTARTTLS: true, ...hooks })
      const error = yield* Effect.flip(
        send(plain(server.port), {
          from: "a@example.com",
          to: ["b@example.com"],
          content: "Subject: n\r\n\r\na\0b\r\n"
        })
      )
      expect(error._tag).toBe("InvalidInputError")
      expect(error.message).toContain("NUL octet")
      expect(seen.mail).toBe(0)
      expect(server.received).toHaveLength(0)
    }))

  it.live("a streamed body with NUL: cut at the NUL, the connection closed, no message ended", () =>
    Effect.gen(function*() {
      const { seen, hooks } = watched()
      const server = yield* smtpServer({ hideSTARTTLS: true, ...hooks })
      const content = Stream.fromIterable([
        encoder.encode("Subject: n\r\n\r\nfirst line\r\n"),
        Uint8Array.of(0x61, 0, 0x62, 0x0d, 0x0a)
      ])
      const error = yield* Effect.flip(
        send(plain(server.port), { from: "a@example.com", to: ["b@example.com"], content })
      )
      expect(error._tag).toBe("InvalidInputError")
      expect(yield* untilClosed(server.connections)).toBe(0)
      expect(seen.ended).toBe(0)
      expect(server.received).toHaveLength(0)
    }))
})

describe("8-bit bodies (smtp-server)", () => {
  const content = "Subject: g\r\n\r\ngrüße\r\n"

  it.live("with 8BITMIME hidden: InvalidInputError before MAIL, saying to encode the body", () =>
    Effect.gen(function*() {
      const { seen, hooks } = watched()
      const server = yield* smtpServer({ hideSTARTTLS: true, hide8BITMIME: true, ...hooks })
      const error = yield* Effect.flip(
        send(plain(server.port), { from: "a@example.com", to: ["b@example.com"], content })
      )
      expect(error._tag).toBe("InvalidInputError")
      expect(error.message).toContain("does not offer 8BITMIME")
      expect(error.message).toContain("quoted-printable or base64")
      expect(seen.mail).toBe(0)
    }))

  it.live("with 8BITMIME offered: delivered, declared BODY=8BITMIME", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      yield* send(plain(server.port), { from: "a@example.com", to: ["b@example.com"], content })
      expect(server.received).toHaveLength(1)
      expect(server.received[0]!.body8bit).toBe(true)
    }))
})

describe("REQUIRETLS needs a verified certificate (smtp-server, STARTTLS, REQUIRETLS offered)", () => {
  const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: r\r\n\r\nsecret\r\n" }
  const { ca } = testCertificates()

  it.live("verified (the test CA trusted, the name matching): MAIL FROM carries REQUIRETLS, delivered", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideREQUIRETLS: false })
      yield* send(
        { host: "localhost", port: server.port, security: "starttls", tls: { ca } },
        { ...mail, requireTls: true }
      )
      expect(server.received).toHaveLength(1)
      expect(server.received[0]!.secure).toBe(true)
    }))

  const unverified = [
    {
      name: "rejectUnauthorized: false and a self-signed certificate",
      certificate: testCertificates().untrusted,
      tls: { rejectUnauthorized: false },
      code: "DEPTH_ZERO_SELF_SIGNED_CERT"
    },
    {
      name: "rejectUnauthorized: false and a servername the certificate does not name",
      certificate: {},
      tls: { ca, servername: "wrong.example", rejectUnauthorized: false },
      code: "ERR_TLS_CERT_ALTNAME_INVALID"
    }
  ] as const
  for (const { certificate, code, name, tls } of unverified) {
    it.live(`${name}: TlsError RequireTlsUnverified (${code}) before MAIL`, () =>
      Effect.gen(function*() {
        const { seen, hooks } = watched()
        const server = yield* smtpServer({ hideREQUIRETLS: false, ...certificate, ...hooks })
        const error = yield* Effect.flip(
          send({ host: "localhost", port: server.port, security: "starttls", tls }, { ...mail, requireTls: true })
        )
        expect(error).toBeInstanceOf(SmtpError.TlsError)
        expect(error._tag === "TlsError" && error.reason).toBe("RequireTlsUnverified")
        expect(error._tag === "TlsError" && error.code).toBe(code)
        expect(error.message).toContain(`not verified (${code})`)
        expect(seen.mail).toBe(0)
        expect(server.received).toHaveLength(0)
        // Without requireTls the same connection settings still send: only REQUIRETLS asks for verification.
        yield* send({ host: "localhost", port: server.port, security: "starttls", tls }, mail)
        expect(seen.mail).toBe(1)
        expect(seen.ended).toBe(1)
      }))
  }

  it.live("a servername mismatch with verification on fails the handshake itself (CertificateRejected)", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideREQUIRETLS: false })
      const error = yield* Effect.flip(
        send(
          { host: "localhost", port: server.port, security: "starttls", tls: { ca, servername: "wrong.example" } },
          { ...mail, requireTls: true }
        )
      )
      expect(error._tag === "TlsError" && error.reason).toBe("CertificateRejected")
      expect(server.received).toHaveLength(0)
    }))
})

/**
 * Postfix (scripts/services/postfix.sh): a stream past its SIZE over BDAT and
 * DATA, and a quoted local part (smtp-server cannot take one with a space: it
 * splits the MAIL FROM line at white space and answers 501; Postfix parses
 * RFC 5321 paths).
 */
describe("against Postfix: a stream past SIZE, a quoted local part", () => {
  const target = postfixTarget()
  if (target === undefined) {
    it.skip(postfixSkipReason, () => {})
    return
  }
  for (const [mode, port] of [["BDAT", target.port], ["DATA", target.dataPort]] as const) {
    it.live.skipIf(port === undefined)(
      `a stream past Postfix's SIZE (64 MiB) over ${mode}: cut with InvalidInputError, and Postfix stores nothing`,
      () =>
        Effect.gen(function*() {
          const token = `effect-smtp-oversize-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
          const head = encoder.encode(`From: a@example.com\r\nTo: smtptest@localhost\r\nSubject: ${token}\r\n\r\n`)
          const line = encoder.encode("x".repeat(510) + "\r\n")
          const block = new Uint8Array(64 * 1024)
          for (let i = 0; i < 128; i++) block.set(line, i * 512)
          let pulled = 0
          // The header, then 1100 blocks of 64 KiB: 68.75 MiB, the limit passed in block 1024.
          const content = Stream.concat(
            Stream.make(head),
            Stream.fromIterable(Array.from({ length: 1100 }, () => block)).pipe(Stream.tap(() =>
              Effect.sync(() => {
                pulled++
              })
            ))
          )
          const options: SmtpClient.Options = {
            host: target.host,
            port: port!,
            security: "none",
            timeout: "15 seconds"
          }
          const error = yield* Effect.flip(
            send(options, { from: "a@example.com", to: ["smtptest@localhost"], content })
          )
          expect(error._tag).toBe("InvalidInputError")
          expect(error.message).toContain("SIZE 67108864")
          expect(pulled).toBe(1024)
          // A marker sent after it arrives; the cut message never does.
          const marker = `${token}-marker`
          yield* send(options, {
            from: "a@example.com",
            to: ["smtptest@localhost"],
            content: `Subject: ${marker}\r\n\r\n${marker}\r\n`
          })
          yield* waitForDelivery(target.maildir, includesText(marker))
          const cut = yield* Effect.flip(
            waitForDelivery(target.maildir, (bytes) => includesText(`Subject: ${token}\n`)(bytes), 2000)
          )
          expect(cut.reason).toBe("Timeout")
        }),
      { timeout: 60_000 }
    )
  }

  it.live("MAIL FROM:<\"john doe\"@example.com> is accepted, and the delivered copy's Return-Path carries it", () =>
    Effect.gen(function*() {
      const token = `effect-smtp-quoted-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
      const from = "\"john \\\"jd\\\" doe\"@example.com"
      const result = yield* send({ host: target.host, port: target.port, security: "none", timeout: "15 seconds" }, {
        from,
        to: ["smtptest@localhost"],
        content: `From: ${from}\r\nTo: smtptest@localhost\r\nSubject: ${token}\r\n\r\n${token}\r\n`
      })
      expect(result.accepted).toEqual(["smtptest@localhost"])
      const delivered = new TextDecoder().decode(yield* waitForDelivery(target.maildir, includesText(token)))
      expect(delivered.startsWith(`Return-Path: <${from}>\n`)).toBe(true)
    }))
})
