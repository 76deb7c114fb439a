import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { smtpServer, tokens, users } from "@effect-smtp/test-utils/smtpServer"
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"

const message = (subject: string, body = "Hello from effect-smtp.\r\n") =>
  `From: a@example.com\r\nTo: b@example.com\r\nSubject: ${subject}\r\n\r\n${body}`

const send = (options: SmtpClient.Options, mail: SmtpClient.Mail) =>
  SmtpClient.send(mail).pipe(Effect.provide(NodeSmtp.layer(options)))

const trusted = () => ({ ca: testCertificates().ca })

describe("against smtp-server on loopback", () => {
  it.effect("plain TCP: delivers the message byte-exact", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const content = message("plain")
      const result = yield* send(
        { host: "127.0.0.1", port: server.port, security: "none" },
        { from: "a@example.com", to: ["b@example.com"], content }
      )
      expect(result.accepted).toEqual(["b@example.com"])
      expect(result.response).toMatch(/^250 /)
      expect(server.received).toHaveLength(1)
      expect(server.received[0]!.data!.toString()).toBe(content)
      expect(server.received[0]!.secure).toBe(false)
      expect(yield* server.connections).toBe(0)
    }))

  it.effect("implicit TLS with a certificate made at test time", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ secure: true })
      const result = yield* send(
        { host: "localhost", port: server.port, security: "tls", tls: trusted() },
        { from: "a@example.com", to: ["b@example.com"], content: message("tls") }
      )
      expect(result.accepted).toEqual(["b@example.com"])
      expect(server.received[0]!.secure).toBe(true)
    }))

  it.effect("STARTTLS (required) upgrades before MAIL", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer()
      yield* send(
        { host: "localhost", port: server.port, security: "starttls", tls: trusted() },
        { from: "a@example.com", to: ["b@example.com"], content: message("starttls") }
      )
      expect(server.received[0]!.secure).toBe(true)
    }))

  it.effect("starttls-if-available (the default off port 465) upgrades when offered", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer()
      yield* send(
        { host: "localhost", port: server.port, tls: trusted() },
        { from: "a@example.com", to: ["b@example.com"], content: message("default") }
      )
      expect(server.received[0]!.secure).toBe(true)
    }))

  it.effect("an untrusted certificate is refused with TlsError, and nothing is sent", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ secure: true, ...testCertificates().untrusted })
      const error = yield* Effect.flip(send(
        { host: "localhost", port: server.port, security: "tls", tls: trusted() },
        { from: "a@example.com", to: ["b@example.com"], content: message("untrusted") }
      ))
      expect(error._tag).toBe("TlsError")
      if (error._tag === "TlsError") expect(error.reason).toBe("CertificateRejected")
      expect(error.message).toContain("certificate")
      expect(server.received).toHaveLength(0)
    }))

  for (const mechanism of ["PLAIN", "LOGIN", "CRAM-MD5"] as const) {
    it.effect(`AUTH ${mechanism} over STARTTLS`, () =>
      Effect.gen(function*() {
        const server = yield* smtpServer({ authOptional: false })
        yield* send(
          {
            host: "localhost",
            port: server.port,
            security: "starttls",
            tls: trusted(),
            auth: { user: "alice", password: Redacted.make(users.alice!), mechanism }
          },
          { from: "a@example.com", to: ["b@example.com"], content: message(mechanism) }
        )
        expect(server.received[0]!.user).toBe("alice")
      }))
  }

  it.effect("the strongest offered mechanism is chosen when none is named (CRAM-MD5 here)", () =>
    Effect.gen(function*() {
      const methods: Array<string> = []
      const server = yield* smtpServer({
        authOptional: false,
        onAuth(auth, _session, callback) {
          methods.push(auth.method)
          callback(null, { user: auth.username })
        }
      })
      yield* send(
        {
          host: "localhost",
          port: server.port,
          tls: trusted(),
          auth: { user: "alice", password: Redacted.make("anything") }
        },
        { from: "a@example.com", to: ["b@example.com"], content: message("strongest") }
      )
      expect(methods).toEqual(["CRAM-MD5"])
    }))

  it.effect("AUTH XOAUTH2 with an access token", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ authOptional: false })
      yield* send(
        {
          host: "localhost",
          port: server.port,
          tls: trusted(),
          auth: { user: "alice", accessToken: Redacted.make(tokens.alice!), mechanism: "XOAUTH2" }
        },
        { from: "a@example.com", to: ["b@example.com"], content: message("xoauth2") }
      )
      expect(server.received[0]!.user).toBe("alice")
    }))

  it.effect("a wrong password is an AuthenticationError with 535 that never shows the password", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ authOptional: false })
      const error = yield* Effect.flip(send(
        {
          host: "localhost",
          port: server.port,
          tls: trusted(),
          auth: { user: "alice", password: Redacted.make("hunter2-wrong"), mechanism: "PLAIN" }
        },
        { from: "a@example.com", to: ["b@example.com"], content: message("wrong") }
      ))
      expect(error).toBeInstanceOf(SmtpError.AuthenticationError)
      expect((error as SmtpError.AuthenticationError).statusCode).toBe(535)
      expect(`${error.message} ${String(error)} ${JSON.stringify(error)}`).not.toContain("hunter2")
      expect(server.received).toHaveLength(0)
    }))

  it.effect("several recipients with one rejected: delivered to the rest, the rejection explained", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const result = yield* send(
        { host: "127.0.0.1", port: server.port, security: "none" },
        {
          from: "a@example.com",
          to: ["b@example.com", "reject-me@example.com", "c@example.com"],
          content: message("multi")
        }
      )
      expect(result.accepted).toEqual(["b@example.com", "c@example.com"])
      expect(result.rejected).toHaveLength(1)
      expect(result.rejected[0]).toMatchObject({ recipient: "reject-me@example.com", statusCode: 550 })
      expect(server.received[0]!.to).toEqual(["b@example.com", "c@example.com"])
    }))

  it.effect("8BITMIME and SMTPUTF8: 8-bit body and an internationalised address", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const content = message("utf8", "Grüße aus Köln, 日本語のテキスト.\r\n")
      yield* send(
        { host: "127.0.0.1", port: server.port, security: "none" },
        { from: "a@example.com", to: ["jörg@bücher.example"], content }
      )
      const received = server.received[0]!
      expect(received.to).toEqual(["jörg@bücher.example"])
      expect(received.utf8).toBe(true)
      expect(received.body8bit).toBe(true)
      expect(received.data!.toString("utf8")).toBe(content)
    }))

  it.effect("without SMTPUTF8 a non-ASCII address is refused before MAIL", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true, hideSMTPUTF8: true })
      const error = yield* Effect.flip(send(
        { host: "127.0.0.1", port: server.port, security: "none" },
        { from: "a@example.com", to: ["jörg@bücher.example"], content: message("no-utf8") }
      ))
      expect(error._tag).toBe("InvalidInputError")
      expect(error.message).toContain("SMTPUTF8")
    }))

  it.effect("a 20 MB streamed message arrives byte-exact", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const header = Buffer.from(message("big", ""))
      // 20 MB of CRLF lines, some with leading dots, in 64 KiB chunks made on demand.
      const line = (i: number) => `${i % 97 === 0 ? "." : ""}line ${i} ${"x".repeat(60)}\r\n`
      const chunks = function*() {
        yield header
        let pending: Array<string> = []
        let size = header.length
        let pendingBytes = 0
        for (let i = 0; size < 20 * 1024 * 1024; i++) {
          const l = line(i)
          pending.push(l)
          pendingBytes += l.length
          size += l.length
          if (pendingBytes >= 64 * 1024) {
            yield Buffer.from(pending.join(""))
            pending = []
            pendingBytes = 0
          }
        }
        if (pending.length > 0) yield Buffer.from(pending.join(""))
      }
      const hash = Crypto.createHash("sha256")
      let total = 0
      for (const c of chunks()) {
        hash.update(c)
        total += c.length
      }
      const result = yield* send(
        { host: "127.0.0.1", port: server.port, security: "none" },
        { from: "a@example.com", to: ["b@example.com"], content: Stream.fromIterable(chunks()), size: total }
      )
      expect(result.accepted).toEqual(["b@example.com"])
      expect(server.received[0]!.size).toBe(total)
      expect(server.received[0]!.sha256).toBe(hash.digest("hex"))
    }), { timeout: 60_000 })

  it.effect("connection refused on a closed port is a SocketError with ECONNREFUSED / 10061", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer()
      const port = server.port
      yield* Effect.promise(() => Promise.resolve())
      // A port that was just free: bind, read the number, close.
      const closed = yield* Effect.promise(() =>
        import("node:net").then((net) =>
          new Promise<number>((resolve) => {
            const s = net.createServer().listen(0, "127.0.0.1", () => {
              const p = (s.address() as { port: number }).port
              s.close(() => resolve(p))
            })
          })
        )
      )
      expect(closed).not.toBe(port)
      const error = yield* Effect.flip(send(
        { host: "127.0.0.1", port: closed, security: "none" },
        { from: "a@example.com", to: ["b@example.com"], content: message("refused") }
      ))
      expect(error._tag).toBe("SocketError")
      if (error._tag === "SocketError") {
        expect(error.code).toBe("ECONNREFUSED")
        expect(error.socketError).toBe(10061)
      }
    }))
})
