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
import type { MisbehavingServer } from "@effect-smtp/testing/node"
import { expect } from "@effect/vitest"
import * as OtelApi from "@opentelemetry/api"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
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

/**
 * A profile's `scenario`: `runScenario` under `profile`, then `check`, the
 * profile's checks of every export, on the run.
 */
export const scenarioOf =
  (profile: SmtpTelemetryProfile.Name, check: (run: Scenario<unknown, unknown>) => void) =>
  <A, E>(
    name: string,
    options: SmtpClient.Options,
    body: Effect.Effect<A, E, SmtpClient>,
    lookup?: NodeSocket.NodeSocketOptions["lookup"]
  ) => Effect.tap(runScenario(name, profile, options, body, lookup), (run) => Effect.sync(() => check(run)))

/** A plaintext session to the loopback server on `port`. */
export const plaintext = (port: number): SmtpClient.Options => ({ host: loopback, port, security: "none" })

/** The error a failed scenario failed with; `undefined` when it succeeded. */
export const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

/**
 * A scenario body that sends `mail` and interrupts the send `after` the
 * server reached the fault at `stage` (a stall): the client is then waiting
 * on the server.
 */
export const interruptedAt = (
  server: Pick<MisbehavingServer.MisbehavingServer, "awaitFault">,
  stage: Parameters<MisbehavingServer.MisbehavingServer["awaitFault"]>[0],
  after: Duration.Input
) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(SmtpClient.send(mail))
    expect(yield* server.awaitFault(stage)).toBe(true)
    yield* Effect.sleep(after)
    yield* Fiber.interrupt(fiber)
  })

/** The instrument of `instruments` named `name`, which must be one of them (`which` says what they are). */
export const instrumentIn = (
  instruments: ReadonlyArray<SmtpInstruments.Instrument>,
  which: string
) =>
(name: string): SmtpInstruments.Instrument => {
  const instrument = instruments.find((i) => i.name === name)
  expect(instrument, `${name} is one of the ${which}`).toBeDefined()
  return instrument!
}

/**
 * What both profiles check of every exported instrument: exported once, its
 * meter, unit, description, kind and value type as `instrumentOf` has them;
 * then `profileChecks`, what the profile adds (the meter's version, the
 * histograms' buckets).
 */
export const expectInstrumentShapes = (
  exported: ReadonlyArray<ExportedMetric>,
  instrumentOf: (name: string) => SmtpInstruments.Instrument,
  profileChecks: (metric: ExportedMetric, instrument: SmtpInstruments.Instrument) => void
) => {
  const names = exported.map((m) => m.name)
  expect(new Set(names).size, "each instrument exported once").toBe(names.length)
  for (const metric of exported) {
    const instrument = instrumentOf(metric.name)
    expect(metric.scope, metric.name).toBe(instrument.meter)
    expect(metric.unit, metric.name).toBe(instrument.unit)
    expect(metric.description, metric.name).toBe(instrument.description)
    if (instrument.kind === "counter") {
      expect(metric.kind, metric.name).toBe("counter")
      expect(metric.monotonic, `${metric.name} is monotonic`).toBe(true)
      expect(metric.valueType, metric.name).toBe(OtelApi.ValueType.INT)
    } else {
      expect(metric.kind, metric.name).toBe("histogram")
      expect(metric.valueType, metric.name).toBe(OtelApi.ValueType.DOUBLE)
    }
    profileChecks(metric, instrument)
  }
}

/**
 * Which instruments were seen succeeding and failing over every scenario of a
 * file: `note` counts an export's data points under `keyOf` (the instrument's
 * name, or finer), `expectCovered` asks that each of `keys` was seen both ways.
 */
export const coverage = (keyOf: (metric: ExportedMetric, point: ExportedMetric["points"][number]) => string) => {
  const seen = new Map<string, { success: number; failure: number }>()
  return {
    note: (exported: ReadonlyArray<ExportedMetric>) => {
      for (const metric of exported) {
        for (const point of metric.points) {
          const key = keyOf(metric, point)
          const entry = seen.get(key) ?? { success: 0, failure: 0 }
          if (point.attributes["error.type"] === undefined) entry.success += point.count
          else entry.failure += point.count
          seen.set(key, entry)
        }
      }
    },
    expectCovered: (keys: ReadonlyArray<string>) => {
      for (const key of keys) {
        const entry = seen.get(key)
        expect(entry?.success ?? 0, `${key} recorded a success`).toBeGreaterThan(0)
        expect(entry?.failure ?? 0, `${key} recorded a failure`).toBeGreaterThan(0)
      }
    }
  }
}

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
