/**
 * The harness of the conformance tests: the real client (`NodeSmtp` over
 * node:net / node:tls) against a real peer on loopback, recording through
 * `OtelSmtpMetrics.layer` into an OpenTelemetry SDK of its own per scenario
 * (so counts are exact), its spans into an in-memory span exporter.
 *
 * `CONFORMANCE_DUMP=1` prints each scenario's exported data points and spans.
 */
import { SmtpClient, type SmtpInstruments, SmtpProtocol, type SmtpTelemetryProfile } from "@effect-smtp/client"
import { NodeSmtp, NodeSocket } from "@effect-smtp/node"
import { expect } from "@effect/vitest"
import type * as OtelApi from "@opentelemetry/api"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { OtelSmtpMetrics } from "../../src/index.js"
import { dump, type ExportedMetric, testSdk } from "./otelSdk.js"

export type Attributes = Readonly<Record<string, string | number>>

export const loopback = "127.0.0.1"

export const mail = {
  from: "sender@example.com",
  to: ["rcpt@example.com"],
  content: "From: sender@example.com\r\nTo: rcpt@example.com\r\nSubject: conformance\r\n\r\nHello.\r\n"
}

/** One exported span, as an exporter sees it. */
export interface ExportedSpan {
  readonly scope: string
  readonly scopeVersion: string | undefined
  readonly name: string
  readonly kind: OtelApi.SpanKind
  readonly attributes: OtelApi.Attributes
  readonly status: OtelApi.SpanStatus
  readonly events: ReadonlyArray<string>
  readonly links: number
  readonly parentSpanId: string | undefined
  readonly spanId: string
}

export const exportedSpan = (span: ReadableSpan): ExportedSpan => ({
  scope: span.instrumentationScope.name,
  scopeVersion: span.instrumentationScope.version,
  name: span.name,
  kind: span.kind,
  attributes: span.attributes,
  status: span.status,
  events: span.events.map((e) => e.name),
  links: span.links.length,
  parentSpanId: span.parentSpanContext?.spanId,
  spanId: span.spanContext().spanId
})

export interface Scenario<A, E> {
  readonly exit: Exit.Exit<A, E>
  readonly exported: ReadonlyArray<ExportedMetric>
  readonly spans: ReadonlyArray<ExportedSpan>
  /** Wall time around the whole scenario, on the clock the client uses. */
  readonly wallMs: number
}

/**
 * Runs `body` against a client built from `options` whose metrics (under
 * `profile`) go to a fresh SDK and whose backend-made spans go to an
 * in-memory exporter; `lookup` replaces DNS (then the stack is assembled by
 * hand, as `NodeSmtp.layerWithMetrics` uses the system resolver).
 */
export const runScenario = <A, E>(
  name: string,
  profile: SmtpTelemetryProfile.Name,
  options: SmtpClient.Options,
  body: Effect.Effect<A, E, SmtpClient>,
  lookup?: NodeSocket.NodeSocketOptions["lookup"]
) =>
  Effect.gen(function*() {
    const sdk = yield* testSdk
    const spanExporter = new InMemorySpanExporter()
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] })
    yield* Effect.addFinalizer(() => Effect.promise(() => tracerProvider.shutdown()))
    const metrics = OtelSmtpMetrics.layer({ meterProvider: sdk.meterProvider, profile, tracerProvider })
    const client = lookup === undefined
      ? NodeSmtp.layerWithMetrics(options)
      : SmtpClient.layer(options).pipe(
        Layer.provide(SmtpProtocol.layer),
        Layer.provide(NodeSocket.layerWith({ lookup }))
      )
    const start = yield* Clock.currentTimeNanos
    const exit = yield* Effect.exit(body.pipe(Effect.provide(Layer.provide(client, metrics))))
    const wallMs = Number((yield* Clock.currentTimeNanos) - start) / 1e6
    const exported = yield* sdk.collect
    yield* Effect.promise(() => tracerProvider.forceFlush())
    const spans = spanExporter.getFinishedSpans().map(exportedSpan)
    if (process.env.CONFORMANCE_DUMP) {
      console.log(`--- ${profile}: ${name}\n${dump(exported)}\n${spans.map((s) => JSON.stringify(s)).join("\n")}`)
    }
    return { exit, exported, spans, wallMs } satisfies Scenario<A, E>
  })

export const pointsOf = (exported: ReadonlyArray<ExportedMetric>, instrument: SmtpInstruments.Instrument) =>
  exported.find((m) => m.name === instrument.name)?.points ?? []

export const canonical = (attributes: OtelApi.Attributes | Attributes) =>
  JSON.stringify(Object.entries(attributes).sort(([a], [b]) => a.localeCompare(b)))

/**
 * Durations are real here, so only their units can be checked: nothing the
 * client measured can exceed the wall time around it, in ms for the `ms`
 * histograms and in seconds for connection.duration (a value recorded in the
 * wrong unit is off by 1000 and fails one way or the other in the scenarios
 * that bound it from below).
 */
export const expectDurationsWithin = (exported: ReadonlyArray<ExportedMetric>, wallMs: number) => {
  for (const metric of exported.filter((m) => m.kind === "histogram")) {
    for (const point of metric.points) {
      const sum = point.sum ?? Number.NaN
      expect(Number.isFinite(sum) && sum >= 0, metric.name).toBe(true)
      const asMs = metric.unit === "s" ? sum * 1000 : sum
      expect(asMs, `${metric.name} within the scenario's ${wallMs} ms`).toBeLessThanOrEqual(wallMs + 1)
    }
  }
}

/** Exactly the expected attribute sets on each instrument, each recorded exactly once, with their exact types. */
export const expectExactRecords = (
  exported: ReadonlyArray<ExportedMetric>,
  table: ReadonlyArray<readonly [SmtpInstruments.Instrument, ReadonlyArray<Attributes>]>
) => {
  for (const [instrument, sets] of table) {
    const points = pointsOf(exported, instrument)
    expect(points.map((p) => canonical(p.attributes)).sort(), instrument.name).toStrictEqual(
      sets.map(canonical).sort()
    )
    // Exact types too (toStrictEqual on the objects, not only their JSON).
    for (const set of sets) {
      const point = points.find((p) => canonical(p.attributes) === canonical(set))
      expect(point?.attributes, instrument.name).toStrictEqual(set)
      expect(point?.count, `${instrument.name}: one record`).toBe(1)
    }
  }
}
