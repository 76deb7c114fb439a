// The ESM application: sends to a real smtp-server through NodeSmtp.layer,
// then through the services composed by hand with the OpenTelemetry backend,
// and reads the exported metrics from the OpenTelemetry SDK. Exits non-zero
// on the first difference from what a user expects.
import { SmtpClient, SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import { NodeSmtp, NodeSocket } from "@effect-smtp/node"
import { OtelSmtpMetrics } from "@effect-smtp/opentelemetry"
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)
const { start } = require("./server.cjs")

const fail = (message) => {
  console.error(`esm: ${message}`)
  process.exit(1)
}

const server = await start()
const mail = (subject, to = ["alice@example.com"]) => ({
  from: "app@example.com",
  to,
  content: `From: app@example.com\r\nTo: ${to.join(", ")}\r\nSubject: ${subject}\r\n\r\nHello.\r\n`
})
const options = { host: "127.0.0.1", port: server.port, security: "none" }

// 1. The whole stack in one Layer.
const first = await Effect.runPromise(SmtpClient.send(mail("one layer")).pipe(Effect.provide(NodeSmtp.layer(options))))
if (first.accepted.join() !== "alice@example.com") fail(`NodeSmtp.layer: accepted ${JSON.stringify(first.accepted)}`)

// 2. The services composed by hand, metrics to the OpenTelemetry SDK.
const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
const meterProvider = new MeterProvider({ readers: [reader] })
const client = SmtpClient.layer(options).pipe(
  Layer.provide(SmtpProtocol.layer),
  Layer.provide(NodeSocket.layer),
  Layer.provide(OtelSmtpMetrics.layer({ meterProvider }))
)
const second = await Effect.runPromise(
  SmtpClient.send(mail("by hand", ["bob@example.com", "reject@example.com"])).pipe(Effect.provide(client))
)
if (second.rejected.map((r) => r.statusCode).join() !== "550") fail(`by hand: rejected ${JSON.stringify(second.rejected)}`)
await reader.forceFlush()
const exported = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))
const sendCount = exported.find((m) => m.descriptor.name === "mailkit.net.smtp.client.send.count")
const points = sendCount?.dataPoints ?? []
if (points.length !== 1 || points[0].value !== 1 || points[0].attributes["server.port"] !== server.port) {
  fail(`send.count exported as ${JSON.stringify(points)}`)
}
if (exported.length !== 7) fail(`expected the 7 instruments, exported ${exported.map((m) => m.descriptor.name)}`)
await meterProvider.shutdown()

// 3. The Effect Metric backend on its own, as a user may pick it.
await Effect.runPromise(
  SmtpClient.send(mail("effect metrics")).pipe(
    Effect.provide(NodeSmtp.layerWithMetrics(options)),
    Effect.provide(SmtpMetrics.layer)
  )
)

if (server.received.length !== 3) fail(`the server received ${server.received.length} messages, expected 3`)
await server.close()
console.log(`esm: 3 messages sent (Node ${process.version}); ${exported.length} instruments exported to the OpenTelemetry SDK`)
