/**
 * Issue 23 against a real smtp-server on loopback: `SMTP_CA` (PEM text or a
 * file) trusts a private CA through `NodeSmtp.layerConfig()`; a TLS port
 * reached in plaintext is named as such; the default security with
 * credentials refuses a server without STARTTLS for the reason that holds.
 */
import { SmtpClient } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { smtpServer, users } from "@effect-smtp/test-utils/smtpServer"
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/testing/TestClock"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { realDelay, untilSleeping } from "./utils/sockets.js"

const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: ca\r\n\r\nprivate CA\r\n" }

const sendWithEnv = (env: Record<string, string>) =>
  SmtpClient.send(mail).pipe(
    Effect.provide(NodeSmtp.layerConfig()),
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
  )

/** A PEM file in a fresh temporary directory, removed with the scope. */
const pemFile = (content: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-smtp-ca-"))
      const file = Path.join(dir, "ca.pem")
      Fs.writeFileSync(file, content)
      return { dir, file }
    }),
    ({ dir }) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

describe("SMTP_CA: a private CA from the environment", () => {
  it.effect("without it, the test CA's certificate is rejected (the control)", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ secure: true })
      const error = yield* Effect.flip(sendWithEnv({ SMTP_URL: `smtps://localhost:${server.port}` }))
      expect(error._tag).toBe("TlsError")
      expect(server.received).toHaveLength(0)
    }))

  it.effect("as PEM text: delivered over implicit TLS, verified against the private CA", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ secure: true })
      const result = yield* sendWithEnv({
        SMTP_URL: `smtps://localhost:${server.port}`,
        SMTP_CA: testCertificates().ca
      })
      expect(result.accepted).toEqual(["b@example.com"])
      expect(server.received[0]!.secure).toBe(true)
    }))

  it.effect("as PEM text with its line breaks written \\n (one-line environments), with the separate variables", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer()
      const oneLine = testCertificates().ca.trim().split("\n").join("\\n")
      yield* sendWithEnv({
        SMTP_HOST: "localhost",
        SMTP_PORT: String(server.port),
        SMTP_SECURITY: "starttls",
        SMTP_CA: oneLine
      })
      expect(server.received[0]!.secure).toBe(true)
    }))

  it.effect("as a file path (NodeSmtp.layerConfig reads it)", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ secure: true })
      const { file } = yield* pemFile(testCertificates().ca)
      yield* sendWithEnv({ SMTP_URL: `smtps://localhost:${server.port}`, SMTP_CA: file })
      expect(server.received).toHaveLength(1)
    }))

  it.effect("a path that does not exist, or a file that is not PEM: a ConfigError naming SMTP_CA", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(sendWithEnv({ SMTP_HOST: "localhost", SMTP_CA: "/nonexistent/ca.pem" }))
      expect(String(missing)).toContain("SMTP_CA")
      expect(String(missing)).toContain("does not exist")
      const { file } = yield* pemFile("not a certificate")
      const notPem = yield* Effect.flip(sendWithEnv({ SMTP_HOST: "localhost", SMTP_CA: file }))
      expect(String(notPem)).toContain("SMTP_CA")
      expect(String(notPem)).toContain("not PEM")
    }))
})

describe("causes named against a real server", () => {
  it.effect("a TLS port (465-style) reached with security \"starttls\": the greeting timeout names the port and security: \"tls\"", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ secure: true })
      const fiber = yield* Effect.forkChild(Effect.flip(
        SmtpClient.send(mail).pipe(
          Effect.provide(NodeSmtp.layer({ host: "127.0.0.1", port: server.port, security: "starttls" }))
        )
      ))
      // Connected: the server waits for a ClientHello, the client for a greeting.
      for (let i = 0; i < 400 && (yield* server.connections) === 0; i++) yield* realDelay(5)
      yield* realDelay(20)
      yield* untilSleeping()
      yield* TestClock.adjust(Duration.subtract(Duration.minutes(1), Duration.millis(1)))
      yield* realDelay(20)
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust(Duration.millis(1))
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("TimeoutError")
      expect(error.message).toContain(`127.0.0.1:${server.port}`)
      expect(error.message).toContain(`security "starttls"`)
      expect(error.message).toContain(`set security: "tls"`)
    }))

  it.effect("a plaintext port reached with security \"tls\": the TLS error says the server answered in plaintext", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const error = yield* Effect.flip(
        SmtpClient.send(mail).pipe(
          Effect.provide(NodeSmtp.layer({ host: "127.0.0.1", port: server.port, security: "tls" }))
        )
      )
      expect(error._tag).toBe("TlsError")
      expect(error.message).toContain("answered in plaintext")
      expect(error.message).toContain(`security "starttls"`)
      expect(server.received).toHaveLength(0)
    }))

  it.effect("default security with auth and no STARTTLS: credentials never go in plaintext, and how to opt in", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const error = yield* Effect.flip(
        SmtpClient.send(mail).pipe(
          Effect.provide(NodeSmtp.layer({
            host: "127.0.0.1",
            port: server.port,
            auth: { user: "alice", password: Redacted.make(users.alice!) }
          }))
        )
      )
      expect(error._tag).toBe("TlsError")
      expect(error.message).not.toContain(`security "starttls" requires it`)
      expect(error.message).toContain("never sent in plaintext")
      expect(error.message).toContain(`security "none"`)
      expect(server.received).toHaveLength(0)
    }))
})
