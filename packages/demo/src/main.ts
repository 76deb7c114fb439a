/**
 * `pnpm demo`: with no configuration, starts an SMTP server on loopback (a
 * certificate made at start, STARTTLS, AUTH), sends through effect-smtp with
 * the OpenTelemetry metrics backend, then prints the exported metrics as a
 * table and as Prometheus text.
 *
 * With SMTP_URL=smtp[s]://user:pass@host:port (plus DEMO_FROM and DEMO_TO) it
 * sends one message to that server instead.
 */
import { SmtpClient, type SmtpError } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { OtelSmtpMetrics } from "@effect-smtp/opentelemetry"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { MeterProvider } from "@opentelemetry/sdk-metrics"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { startDemoServer } from "./demoServer.js"
import { metricsTable } from "./metricsTable.js"

const reader = new PrometheusExporter({ preventServerStart: true })
const meterProvider = new MeterProvider({ readers: [reader] })
const metrics = OtelSmtpMetrics.layer({ meterProvider })

const step = (title: string, options: SmtpClient.Options, mail: SmtpClient.Mail) =>
  SmtpClient.send(mail).pipe(
    Effect.provide(NodeSmtp.layerWithMetrics(options)),
    Effect.provide(metrics),
    Effect.matchEffect({
      onSuccess: (result) =>
        Console.log(
          `✔ ${title}\n    accepted: ${result.accepted.join(", ")}${
            result.rejected.length > 0
              ? `\n    rejected: ${
                result.rejected.map((r) => `${r.recipient} (${r.statusCode} ${r.message})`).join(", ")
              }`
              : ""
          }\n    server: ${result.response}`
        ),
      onFailure: (error: SmtpError.SmtpError) => Console.log(`✘ ${title}\n    ${error._tag}: ${error.message}`)
    })
  )

const message = (from: string, to: string, subject: string) =>
  [
    `From: ${from}`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${Date.now()}.${Math.random().toString(36).slice(2)}@effect-smtp.demo>`,
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    "Hello from effect-smtp. Grüße!",
    ".a line that starts with a dot survives dot-stuffing",
    ""
  ].join("\r\n")

const embedded = Effect.gen(function*() {
  const server = yield* startDemoServer
  yield* Console.log(`Embedded SMTP server on 127.0.0.1:${server.port} (STARTTLS, AUTH PLAIN/LOGIN/CRAM-MD5)\n`)
  const options: SmtpClient.Options = {
    host: "localhost",
    port: server.port,
    security: "starttls",
    tls: { ca: server.ca },
    auth: { user: server.user, password: server.password },
    timeout: "10 seconds"
  }
  yield* step("STARTTLS + AUTH, one message", options, {
    from: "demo@effect-smtp.dev",
    to: ["alice@example.com"],
    content: message("demo@effect-smtp.dev", "alice@example.com", "effect-smtp demo")
  })
  yield* step("one recipient rejected by the server", options, {
    from: "demo@effect-smtp.dev",
    to: ["bob@example.com", "nobody@rejected.example"],
    content: message("demo@effect-smtp.dev", "bob@example.com", "partly rejected")
  })
  yield* step("every recipient rejected", options, {
    from: "demo@effect-smtp.dev",
    to: ["nobody@rejected.example"],
    content: message("demo@effect-smtp.dev", "nobody@rejected.example", "rejected")
  })
  yield* step("a closed port", { ...options, port: server.closedPort }, {
    from: "demo@effect-smtp.dev",
    to: ["alice@example.com"],
    content: message("demo@effect-smtp.dev", "alice@example.com", "never sent")
  })
  yield* Console.log(`\nThe server received ${(yield* server.received).length} message(s).`)
})

const external = (url: URL) =>
  Effect.gen(function*() {
    const from = process.env.DEMO_FROM ?? "effect-smtp-demo@localhost"
    const to = (process.env.DEMO_TO ?? from).split(",").map((s) => s.trim())
    const user = decodeURIComponent(url.username)
    yield* Console.log(
      `Sending to ${url.protocol}//${url.hostname}:${url.port || "(default)"} as ${user || "(no auth)"}\n`
    )
    yield* step(`one message to ${to.join(", ")}`, {
      host: url.hostname,
      port: url.port === "" ? undefined : Number(url.port),
      security: url.protocol === "smtps:" ? "tls" : undefined,
      auth: user === "" ? undefined : { user, password: Redacted.make(decodeURIComponent(url.password)) }
    }, { from, to, content: message(from, to.join(", "), "effect-smtp demo") })
  })

const program = Effect.gen(function*() {
  const url = process.env.SMTP_URL
  yield* url === undefined || url === "" ? embedded : external(new URL(url))
  const { resourceMetrics } = yield* Effect.promise(() => reader.collect())
  yield* Console.log("\nExported metrics (OpenTelemetry, as MailKit documents them):\n")
  yield* Console.log(metricsTable(resourceMetrics))
  yield* Console.log("\nPrometheus text exposition:\n")
  yield* Console.log(new PrometheusSerializer().serialize(resourceMetrics))
  yield* Effect.promise(() => meterProvider.shutdown())
})

NodeRuntime.runMain(Effect.scoped(program))
