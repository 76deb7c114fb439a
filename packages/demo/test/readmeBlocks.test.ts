/**
 * README.md's TypeScript blocks, run as written (extracted by
 * scripts/readme-blocks.mjs into packages/demo/readme/): each block's
 * NodeSmtp.layer is redirected to a local server (test/utils/swap.ts), and
 * each test asserts what the README's text around the block says.
 */
import { SmtpError } from "@effect-smtp/client"
import { Dkim, type MailMessage } from "@effect-smtp/message"
import { NodeSmtp } from "@effect-smtp/node"
import type * as NodeModule from "@effect-smtp/node"
import type * as NodeMailModule from "@effect-smtp/node/mail"
import { scramServer } from "@effect-smtp/test-utils/scramServer"
import { smtpServer } from "@effect-smtp/test-utils/smtpServer"
import { MisbehavingServer, TestCertificates } from "@effect-smtp/testing/node"
import { describe, expect, it } from "@effect/vitest"
import { metrics } from "@opentelemetry/api"
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader
} from "@opentelemetry/sdk-metrics"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { vi } from "vitest"
import { socks5Proxy } from "./utils/socks5Proxy.js"
import { redirect, seen } from "./utils/swap.js"

vi.mock("@effect-smtp/node/mail", async (importOriginal) => {
  const original = await importOriginal<typeof NodeMailModule>()
  const { swapOptions, swapSocket } = await import("./utils/swap.js")
  return {
    NodeMail: {
      ...original.NodeMail,
      promiseClient: (...[options, socketOptions]: Parameters<typeof original.NodeMail.promiseClient>) =>
        original.NodeMail.promiseClient(swapOptions(options), swapSocket(socketOptions))
    }
  }
})

vi.mock("@effect-smtp/node", async (importOriginal) => {
  const original = await importOriginal<typeof NodeModule>()
  const { swapNodeSmtp } = await import("./utils/swap.js")
  return { ...original, NodeSmtp: swapNodeSmtp(original.NodeSmtp) }
})

const content = "Subject: hi\r\n\r\nhello\r\n"

/** Points the blocks at `server` for the duration of `effect`. */
const against = <A, E, R>(
  server: { readonly port: number; readonly ca: string },
  effect: Effect.Effect<A, E, R>,
  extra: { readonly security?: "tls" | "starttls" | "none"; readonly proxy?: Redacted.Redacted<string> } = {}
) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      redirect.current = { port: server.port, ca: server.ca, ...extra }
    }),
    () => effect,
    () => Effect.sync(() => (redirect.current = undefined))
  )

/** A client on the redirected server, for blocks that need an SmtpClient in context. */
const client = () => NodeSmtp.layer({ host: "smtp.example.com", security: "starttls" })

const waitFor = (condition: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 250 && !condition(); i++) yield* Effect.sleep("20 millis")
    expect(condition()).toBe(true)
  })

describe("README.md blocks, run", () => {
  it.live("quick start: STARTTLS, AUTH, a send to alice and bob", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ passwords: { "app@example.com": "app-password" } })
      // The block runs its program when imported: Effect.runPromise at its end.
      yield* against(
        server,
        Effect.gen(function*() {
          yield* Effect.promise(() => import("../readme/quick-start.js"))
          yield* waitFor(() => server.received.length === 1)
        })
      )
      expect(server.received[0]).toMatchObject({
        from: "app@example.com",
        to: ["alice@example.com", "bob@example.com"],
        user: "app@example.com",
        secure: true
      })
      expect(seen.at(-1)?.host).toBe("smtp.example.com")
    }))

  it.live("verify: STARTTLS and AUTH, no message; a wrong password is the AuthenticationError, with promises too", () =>
    Effect.gen(function*() {
      const { checkSmtp, checkSmtpWithPromises } = yield* Effect.promise(() =>
        import("../readme/checking-the-configuration-verify.js")
      )
      const server = yield* smtpServer({ passwords: { "app@example.com": "app-password" } })
      yield* against(server, checkSmtp)
      yield* against(server, Effect.promise(() => checkSmtpWithPromises()))
      expect(server.received).toEqual([])
      const wrong = yield* smtpServer({ passwords: { "app@example.com": "another-password" } })
      const error = yield* against(wrong, Effect.flip(checkSmtp))
      expect(error).toBeInstanceOf(SmtpError.AuthenticationError)
      const rejected = yield* against(
        wrong,
        Effect.promise(() => checkSmtpWithPromises().then(() => undefined, (e: unknown) => e))
      )
      expect(rejected).toBeInstanceOf(SmtpError.AuthenticationError)
    }))

  it.live("pool: every send succeeds over at most maxConnections (4) connections", () =>
    Effect.gen(function*() {
      const { newsletter } = yield* Effect.promise(() => import("../readme/connection-pool-and-pipelining.js"))
      const server = yield* smtpServer()
      const recipients = Array.from({ length: 40 }, (_, i) => `reader${i}@example.com`)
      const results = yield* against(server, newsletter(recipients, content), { security: "starttls" })
      expect(results.filter(Result.isSuccess)).toHaveLength(40)
      expect(server.received).toHaveLength(40)
      expect(server.maxConnections()).toBeLessThanOrEqual(4)
    }))

  it.live("SCRAM-SHA-256: the server proves it knows the password; a wrong one is an AuthenticationError", () =>
    Effect.gen(function*() {
      const { scram } = yield* Effect.promise(() => import("../readme/authentication.js"))
      const { ca } = TestCertificates.testCertificates()
      // The SCRAM server of the workspace's tests speaks TLS from the first byte.
      const server = yield* scramServer({ password: "s3cret", offer: ["SCRAM-SHA-256", "PLAIN"] })
      yield* against({ port: server.port, ca }, scram, { security: "tls" })
      expect(server.logins).toMatchObject([{ mechanism: "SCRAM-SHA-256", ok: true }])
      const other = yield* scramServer({ password: "not-s3cret", offer: ["SCRAM-SHA-256"] })
      const error = yield* against({ port: other.port, ca }, Effect.flip(scram), { security: "tls" })
      expect(error).toBeInstanceOf(SmtpError.AuthenticationError)
    }))

  it.live("proxy: through a socks5h proxy with credentials, implicit TLS on 465", () =>
    Effect.gen(function*() {
      const { viaProxy } = yield* Effect.promise(() => import("../readme/through-a-socks5-or-http-proxy.js"))
      const server = yield* smtpServer({ secure: true })
      const proxy = yield* socks5Proxy("relay", "s3cret")
      yield* against(server, viaProxy, {
        proxy: Redacted.make(`socks5h://relay:s3cret@127.0.0.1:${proxy.port}`)
      })
      expect(proxy.connects).toEqual([{ user: "relay", destination: `localhost:${server.port}` }])
      expect(server.received[0]?.secure).toBe(true)
      // A wrong proxy password: the ProxyError the block catches, logs and fails with.
      const error = yield* against(server, Effect.flip(viaProxy), {
        proxy: Redacted.make(`socks5h://relay:wrong@127.0.0.1:${proxy.port}`)
      })
      expect(error).toBeInstanceOf(SmtpError.ProxyError)
      expect((error as SmtpError.ProxyError).reason).toBe("AuthenticationFailed")
    }))

  it.live("LMTP: one reply per recipient after the final dot", () =>
    Effect.gen(function*() {
      const { deliver } = yield* Effect.promise(() => import("../readme/lmtp.js"))
      const server = yield* smtpServer({ lmtp: true, hideSTARTTLS: true })
      const accepted = yield* against(server, deliver(content))
      expect(accepted).toEqual(["alice@example.com", "bob@example.com"])
      expect(server.received).toHaveLength(1)
    }))

  it.live("REQUIRETLS: MAIL FROM carries REQUIRETLS; refused over plaintext before any command", () =>
    Effect.gen(function*() {
      const { sendSecret } = yield* Effect.promise(() => import("../readme/requiretls.js"))
      const { ca, cert, key } = TestCertificates.testCertificates()
      const server = yield* MisbehavingServer.make({ tls: { key, cert }, extensions: ["REQUIRETLS"] })
      yield* against({ port: server.port, ca }, sendSecret(content).pipe(Effect.provide(client())))
      expect((yield* server.commands).some((c) => /^MAIL FROM:<hr@example\.com>.* REQUIRETLS/.test(c))).toBe(true)
      const plain = yield* MisbehavingServer.make({ extensions: ["REQUIRETLS"] })
      const error = yield* against(
        { port: plain.port, ca },
        Effect.flip(sendSecret(content).pipe(Effect.provide(client()))),
        { security: "none" }
      )
      expect(error).toBeInstanceOf(SmtpError.TlsError)
      expect((error as SmtpError.TlsError).reason).toBe("RequireTlsWithoutTls")
      expect((yield* plain.commands).some((c) => c.startsWith("MAIL"))).toBe(false)
    }))

  it.live("telemetry: the documented profile on the global MeterProvider, and the shipped one", () =>
    Effect.gen(function*() {
      const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
      const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 })
      const provider = new MeterProvider({ readers: [reader] })
      metrics.setGlobalMeterProvider(provider)
      try {
        const { SmtpLikeMailKit, SmtpLive } = yield* Effect.promise(() => import("../readme/telemetry.js"))
        const server = yield* smtpServer()
        const mail = { from: "a@example.com", to: ["b@example.com"], content }
        const { SmtpClient } = yield* Effect.promise(() => import("@effect-smtp/client"))
        yield* against(server, SmtpClient.send(mail).pipe(Effect.provide(SmtpLive)))
        yield* against(server, SmtpClient.send(mail).pipe(Effect.provide(SmtpLikeMailKit)))
        yield* Effect.promise(() => reader.forceFlush())
        const names = exporter.getMetrics().flatMap((r) =>
          r.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name))
        )
        expect(names).toContain("mailkit.net.smtp.client.send.count")
        expect(names).toContain("mailkit.net.smtp.client.operation.count")
        expect(server.received).toHaveLength(2)
      } finally {
        metrics.disable()
        yield* Effect.promise(() => provider.shutdown())
      }
    }))

  it.live("production options: XOAUTH2 with the token provider; partialDelivery abort sends no DATA", () =>
    Effect.gen(function*() {
      const { ProductionSmtp } = yield* Effect.promise(() => import("../readme/production-options.js"))
      const { SmtpClient } = yield* Effect.promise(() => import("@effect-smtp/client"))
      const server = yield* smtpServer({ tokens: { "app@example.com": "ya29..." } })
      yield* against(
        server,
        Effect.gen(function*() {
          const result = yield* SmtpClient.send({ from: "app@example.com", to: ["b@example.com"], content })
          expect(result.accepted).toEqual(["b@example.com"])
          const error = yield* Effect.flip(
            SmtpClient.send({ from: "app@example.com", to: ["ok@example.com", "reject@example.com"], content })
          )
          expect(error).toBeInstanceOf(SmtpError.SmtpCommandError)
        }).pipe(Effect.provide(ProductionSmtp))
      )
      expect(server.received).toHaveLength(1)
      expect(server.received[0]).toMatchObject({ user: "app@example.com", secure: true })
    }))

  it.live("composing: the envelope includes bcc, the message does not", () =>
    Effect.gen(function*() {
      const { welcome } = yield* Effect.promise(() => import("../readme/composing-messages.js"))
      const server = yield* smtpServer()
      const result = yield* against(server, welcome.pipe(Effect.provide(client())))
      expect(result.accepted).toEqual(["alice@example.com", "audit@example.com"])
      const data = server.received[0]!.text
      expect(data).toMatch(/^Subject: =\?UTF-8\?/m)
      expect(data).not.toMatch(/^Bcc:/im)
      expect(data).toMatch(/multipart\/alternative/)
    }))

  it.live("attachments from files: streamed from the path, in Effect and in one promise call", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer()
      // The block makes its promise client when it loads: it is pointed at the server first.
      const { sendReport, sendReportWithPromises } = yield* against(
        server,
        Effect.promise(() => import("../readme/attachments-from-files-and-one-call-from-promise-code.js")),
        { security: "starttls" }
      )
      const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-smtp-docs-report-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true })))
      const path = Path.join(directory, "report.pdf")
      const bytes = Crypto.randomBytes(100_000)
      Fs.writeFileSync(path, bytes)
      yield* against(server, sendReport(path).pipe(Effect.provide(client())))
      const result = yield* Effect.promise(() => sendReportWithPromises(path))
      expect(result.accepted).toEqual(["boss@example.com"])
      expect(server.received).toHaveLength(2)
      for (const received of server.received) {
        expect(received.text).toMatch(/Content-Type: application\/pdf; name=report\.pdf/)
        expect(received.text).toContain(bytes.toString("base64").slice(0, 76))
      }
      expect(server.received[1]!.text).toContain("filename=summary.txt")
      const missing = yield* Effect.promise(() =>
        sendReportWithPromises(Path.join(directory, "missing.pdf")).then(() => undefined, (e: unknown) => e)
      )
      expect((missing as SmtpError.InvalidInputError).field).toBe("attachments.path")
      expect(server.received).toHaveLength(2)
    }).pipe(Effect.scoped))

  it.live("DKIM: two signatures (rsa2025, ed2025) on the message sent", () =>
    Effect.gen(function*() {
      const { newsletter } = yield* Effect.promise(() => import("../readme/dkim-signing.js"))
      const rsa = Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
        type: "pkcs8",
        format: "pem"
      })
      const ed = Crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" })
      const server = yield* smtpServer()
      yield* against(server, newsletter(rsa.toString(), ed.toString()).pipe(Effect.provide(client())))
      const data = server.received[0]!.text
      expect(data.match(/^DKIM-Signature:/gim)).toHaveLength(2)
      expect(data).toMatch(/a=rsa-sha256;[\s\S]*s=rsa2025/)
      expect(data).toMatch(/a=ed25519-sha256;[\s\S]*s=ed2025/)
    }))

  it.effect("one-click unsubscribe: both fields written and signed", () =>
    Effect.gen(function*() {
      const { bulk } = yield* Effect.promise(() => import("../readme/one-click-unsubscribe.js"))
      const key = Crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" })
      const signer = yield* Dkim.make({
        domain: "example.com",
        selector: "s",
        algorithm: "ed25519-sha256",
        privateKey: Redacted.make(key.toString())
      })
      const composed: MailMessage.Composed<unknown> = yield* bulk(signer, "t0k3n")
      const bytes = yield* Stream.runCollect(composed.content)
      const text = new TextDecoder().decode(Buffer.concat(bytes.map((b) => Buffer.from(b))))
      expect(text).toMatch(
        /^List-Unsubscribe: <https:\/\/example\.com\/unsubscribe\/t0k3n>,\s+<mailto:unsubscribe@example\.com>/m
      )
      expect(text).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click/m)
      expect(text).toMatch(/h=[^;]*list-unsubscribe:list-unsubscribe-post/i)
    }))

  it.effect("the test kit: the subject of the last message sent", () =>
    Effect.gen(function*() {
      const { test } = yield* Effect.promise(() => import("../readme/testing-an-application-that-sends-mail-1.js"))
      expect(yield* test).toEqual(Option.some("hi"))
    }))

  it.live("MisbehavingServer: 421 to MAIL is a retryable error", () =>
    Effect.gen(function*() {
      const { closing } = yield* Effect.promise(() => import("../readme/testing-an-application-that-sends-mail-2.js"))
      expect(yield* closing).toBe(true)
    }))
})
