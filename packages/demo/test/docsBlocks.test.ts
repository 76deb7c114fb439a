/**
 * The TypeScript blocks of docs/outbox.md and docs/telemetry.md, run as
 * written (extracted by scripts/readme-blocks.mjs): their NodeSmtp layers
 * are redirected to a local smtp-server (test/utils/swap.ts), the outbox's
 * SQLite file to a temporary directory, and the OTLP exporters to a local
 * HTTP receiver (OTEL_EXPORTER_OTLP_ENDPOINT, which they read).
 */
import { SmtpClient } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import type * as NodeModule from "@effect-smtp/node"
import { OtelSmtpMetrics } from "@effect-smtp/opentelemetry"
import type * as OutboxModule from "@effect-smtp/outbox"
import { smtpServer } from "@effect-smtp/test-utils/smtpServer"
import { describe, expect, it } from "@effect/vitest"
import { MeterProvider } from "@opentelemetry/sdk-metrics"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { vi } from "vitest"
import { redirect } from "./utils/swap.js"

vi.mock("@effect-smtp/node", async (importOriginal) => {
  const original = await importOriginal<typeof NodeModule>()
  const { swapNodeSmtp } = await import("./utils/swap.js")
  return { ...original, NodeSmtp: swapNodeSmtp(original.NodeSmtp) }
})

// The outbox block names outbox.sqlite in the working directory: the file
// goes to a temporary directory instead.
vi.mock("@effect-smtp/outbox", async (importOriginal) => {
  const original = await importOriginal<typeof OutboxModule>()
  const { redirect } = await import("./utils/swap.js")
  const layerSqlite: typeof original.SmtpOutbox.layerSqlite = (options) =>
    original.SmtpOutbox.layerSqlite({ ...options, filename: redirect.sqlite ?? options.filename })
  return { ...original, SmtpOutbox: { ...original.SmtpOutbox, layerSqlite } }
})

const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: hi\r\n\r\nhello\r\n" }

const against = <A, E, R>(server: { readonly port: number; readonly ca: string }, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      redirect.current = { port: server.port, ca: server.ca, security: "starttls" }
    }),
    () => effect,
    () => Effect.sync(() => (redirect.current = undefined))
  )

/** An OTLP/HTTP receiver on loopback: what the exporters posted, by path. */
const otlpReceiver = Effect.acquireRelease(
  Effect.callback<{ server: Http.Server; url: string; posts: Array<{ path: string; body: string }> }>((resume) => {
    const posts: Array<{ path: string; body: string }> = []
    const server = Http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        posts.push({ path: request.url ?? "", body: Buffer.concat(chunks).toString("latin1") })
        response.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      resume(Effect.succeed({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, posts }))
    })
  }),
  ({ server }) =>
    Effect.callback<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

const withEndpoint = <A, E, R>(url: string, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const before = process.env.OTEL_EXPORTER_OTLP_ENDPOINT
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT = url
      return before
    }),
    () => effect,
    (before) =>
      Effect.sync(() => {
        if (before === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT
        else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = before
      })
  )

const freePort = Effect.callback<number>((resume) => {
  const probe = Http.createServer()
  probe.listen(0, "127.0.0.1", () => {
    const port = (probe.address() as AddressInfo).port
    probe.close(() => resume(Effect.succeed(port)))
  })
})

const fetchText = (url: string) => Effect.promise(() => fetch(url).then((response) => response.text()))

describe("docs/outbox.md block, run", () => {
  it.live("the outbox provided once around the program sends in-process: the status becomes Sent", () =>
    Effect.gen(function*() {
      const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-smtp-docs-outbox-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true })))
      redirect.sqlite = Path.join(directory, "outbox.sqlite")
      const { main } = yield* Effect.promise(() =>
        import("../readme/outbox--the-outbox-durable-sending-effect-smtp-outbox.js")
      )
      const server = yield* smtpServer()
      const status = yield* against(server, main).pipe(Effect.timeout("20 seconds"))
      expect(status._tag).toBe("Sent")
      if (status._tag === "Sent") expect(status.result.accepted).toEqual(["alice@example.com"])
      expect(server.received).toHaveLength(1)
      expect(server.received[0]).toMatchObject({ from: "shop@example.com", to: ["alice@example.com"] })
      expect(Fs.existsSync(redirect.sqlite)).toBe(true)
    }))
})

describe("docs/telemetry.md blocks, run", () => {
  it.live("the shipped profile on either backend", () =>
    Effect.gen(function*() {
      const { EffectShipped, OtelShipped } = yield* Effect.promise(() => import("../readme/telemetry--telemetry.js"))
      const server = yield* smtpServer()
      for (const metrics of [OtelShipped, EffectShipped]) {
        const result = yield* against(
          server,
          SmtpClient.send(mail).pipe(
            Effect.provide(NodeSmtp.layerWithMetrics({ host: "smtp.example.com" }).pipe(Layer.provide(metrics)))
          )
        )
        expect(result.accepted).toEqual(["b@example.com"])
      }
      expect(server.received).toHaveLength(2)
    }))

  it.live("NodeSdk exports the metrics and the spans of a send over OTLP", () =>
    Effect.gen(function*() {
      const { MainLive } = yield* Effect.promise(() =>
        import("../readme/telemetry--effect-metric-backend-with-effect-opentelemetry.js")
      )
      const receiver = yield* otlpReceiver
      const server = yield* smtpServer()
      yield* withEndpoint(
        receiver.url,
        // Closing the layer shuts the SDK down, which exports what it holds.
        against(server, SmtpClient.send(mail).pipe(Effect.provide(MainLive)))
      )
      expect(server.received).toHaveLength(1)
      const metrics = receiver.posts.filter((post) => post.path === "/v1/metrics").map((post) => post.body).join("")
      const traces = receiver.posts.filter((post) => post.path === "/v1/traces").map((post) => post.body).join("")
      expect(metrics).toContain("mailkit.net.smtp.client.send.count")
      expect(traces).toContain("smtp.send")
      expect(traces).toContain("mailer")
    }))

  it.live("Effect's Prometheus exporter serves the MailKit names on :9464/metrics", () =>
    Effect.gen(function*() {
      const { MainLive } = yield* Effect.promise(() =>
        import("../readme/telemetry--effect-metric-backend-with-effect-s-own-prometheus-exporter.js")
      )
      const server = yield* smtpServer()
      const page = yield* against(
        server,
        Effect.gen(function*() {
          yield* SmtpClient.send(mail)
          return yield* fetchText("http://127.0.0.1:9464/metrics")
        }).pipe(Effect.provide(MainLive))
      )
      expect(page).toMatch(/^mailkit_net_smtp_client_send_count_total\{/m)
      expect(page).toMatch(/^mailkit_net_smtp_client_send_duration_milliseconds_bucket\{/m)
    }))

  it.live("the OpenTelemetry backend on its MeterProvider, exported over OTLP", () =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      // The exporter reads the endpoint when the block's module builds it.
      const { SmtpLive, meterProvider } = yield* withEndpoint(
        receiver.url,
        Effect.promise(() => import("../readme/telemetry--opentelemetry-backend.js"))
      )
      const server = yield* smtpServer()
      yield* against(server, SmtpClient.send(mail).pipe(Effect.provide(SmtpLive)))
      yield* Effect.promise(() => meterProvider.shutdown())
      expect(server.received).toHaveLength(1)
      const metrics = receiver.posts.filter((post) => post.path === "/v1/metrics").map((post) => post.body).join("")
      expect(metrics).toContain("mailkit.net.smtp.client.send.count")
    }))

  it.live("the unit-suffixed Prometheus exporter prints a MailKit application's histogram names", () =>
    Effect.gen(function*() {
      const { UnitSuffixedPrometheusExporter } = yield* Effect.promise(() =>
        import("../readme/telemetry--prometheus-names-measured.js")
      )
      const port = yield* freePort
      const exporter = new UnitSuffixedPrometheusExporter({ port, host: "127.0.0.1" })
      const meterProvider = new MeterProvider({ readers: [exporter] })
      yield* Effect.addFinalizer(() => Effect.promise(() => meterProvider.shutdown()))
      const server = yield* smtpServer()
      yield* against(
        server,
        SmtpClient.send(mail).pipe(
          Effect.provide(
            NodeSmtp.layerWithMetrics({ host: "smtp.example.com" }).pipe(
              Layer.provide(OtelSmtpMetrics.layer({ meterProvider }))
            )
          )
        )
      )
      const page = yield* fetchText(`http://127.0.0.1:${port}/metrics`)
      expect(page).toMatch(/^mailkit_net_smtp_client_send_duration_milliseconds_bucket\{/m)
      expect(page).toMatch(/^mailkit_net_smtp_client_connection_duration_seconds_bucket\{/m)
    }))
})
