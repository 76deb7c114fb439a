import * as SmtpError from "@effect-smtp/client/SmtpError"
import * as SmtpInstruments from "@effect-smtp/client/SmtpInstruments"
import type { MessageSendEvent, Outcome } from "@effect-smtp/client/SmtpMetrics"
import { SmtpMetrics } from "@effect-smtp/client/SmtpMetrics"
import * as SmtpTelemetry from "@effect-smtp/client/SmtpTelemetry"
import { effectProp, fc } from "@effect-smtp/test-utils/property"
import { expectWellFormedAttributes, failure, telemetryEvents } from "@effect-smtp/test-utils/telemetryEvents"
import { describe, expect, it } from "@effect/vitest"
import * as OtelApi from "@opentelemetry/api"
import {
  AggregationTemporality,
  type DataPoint,
  DataPointType,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
  type ResourceMetrics
} from "@opentelemetry/sdk-metrics"
import * as Effect from "effect/Effect"
import { OtelSmtpMetrics } from "../src/index.js"

// A private MeterProvider per test: nothing global, so tests cannot see each
// other's records.
const makeSdk = Effect.acquireRelease(
  Effect.sync(() => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    // The interval never fires during a test: collection is explicit (forceFlush).
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
    const provider = new MeterProvider({ readers: [reader] })
    const collect: Effect.Effect<ResourceMetrics> = Effect.promise(async () => {
      await reader.forceFlush()
      const exported = exporter.getMetrics()
      exporter.reset()
      const batch = exported.at(-1)
      if (batch === undefined) throw new Error("forceFlush exported nothing")
      return batch
    })
    return { provider, collect }
  }),
  ({ provider }) => Effect.promise(() => provider.shutdown())
)

const host = "smtp.example.test"
const facts = { serverAddress: host, serverPort: 587, scheme: "smtp" as const }
const {
  connect: connectEvents,
  connection: connectionEvents,
  send: sendEvents,
  socket: socketEvents
} = telemetryEvents(host)

const recordAll = Effect.gen(function*() {
  const metrics = yield* SmtpMetrics
  yield* Effect.forEach(socketEvents, metrics.socketConnect, { discard: true })
  yield* Effect.forEach(connectEvents, metrics.clientConnect, { discard: true })
  yield* Effect.forEach(connectionEvents, metrics.connectionEnd, { discard: true })
  yield* Effect.forEach(sendEvents, metrics.messageSend, { discard: true })
})

// Which events each instrument records, with the value it records.
const expected: ReadonlyArray<{
  readonly instrument: SmtpInstruments.Instrument
  readonly points: ReadonlyArray<{ readonly attributes: SmtpTelemetry.Attributes; readonly value: number }>
}> = [
  {
    instrument: SmtpInstruments.socketConnectCount,
    points: socketEvents.map((e) => ({ attributes: SmtpTelemetry.socketConnectAttributes(e), value: 1 }))
  },
  {
    instrument: SmtpInstruments.socketConnectDuration,
    points: socketEvents.map((e) => ({ attributes: SmtpTelemetry.socketConnectAttributes(e), value: e.durationMs }))
  },
  {
    instrument: SmtpInstruments.clientConnectCount,
    points: connectEvents.map((e) => ({ attributes: SmtpTelemetry.clientAttributes(e), value: 1 }))
  },
  {
    instrument: SmtpInstruments.clientConnectDuration,
    points: connectEvents.map((e) => ({ attributes: SmtpTelemetry.clientAttributes(e), value: e.durationMs }))
  },
  {
    instrument: SmtpInstruments.clientConnectionDuration,
    points: connectionEvents.map((e) => ({ attributes: SmtpTelemetry.clientAttributes(e), value: e.durationSeconds }))
  },
  {
    instrument: SmtpInstruments.clientSendCount,
    points: sendEvents.map((e) => ({ attributes: SmtpTelemetry.clientAttributes(e), value: 1 }))
  },
  {
    instrument: SmtpInstruments.clientSendDuration,
    points: sendEvents.map((e) => ({ attributes: SmtpTelemetry.clientAttributes(e), value: e.durationMs }))
  }
]

const metricOf = (resourceMetrics: ResourceMetrics, instrument: SmtpInstruments.Instrument): MetricData => {
  const matches = resourceMetrics.scopeMetrics.flatMap((scope) =>
    scope.metrics.filter((metric) => metric.descriptor.name === instrument.name).map((metric) => ({ scope, metric }))
  )
  expect(matches, instrument.name).toHaveLength(1)
  const [match] = matches
  if (match === undefined) throw new Error(`${instrument.name} was not exported`)
  expect(match.scope.scope.name, instrument.name).toBe(instrument.meter)
  return match.metric
}

const sameAttributes = (a: OtelApi.Attributes, b: SmtpTelemetry.Attributes) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort())

describe("OtelSmtpMetrics.layer", () => {
  it.effect("exports the seven instruments with the documented meters, names, kinds, units and descriptions", () =>
    Effect.gen(function*() {
      const sdk = yield* makeSdk
      yield* recordAll.pipe(Effect.provide(OtelSmtpMetrics.layer({ meterProvider: sdk.provider })))
      const resourceMetrics = yield* sdk.collect

      expect(resourceMetrics.scopeMetrics.map((scope) => scope.scope.name).sort()).toStrictEqual([
        "mailkit.net.smtp",
        "mailkit.net.socket"
      ])
      expect(resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics.map((m) => m.descriptor.name)).sort())
        .toStrictEqual(SmtpInstruments.all.map((instrument) => instrument.name).sort())

      for (const { instrument } of expected) {
        const metric = metricOf(resourceMetrics, instrument)
        expect(metric.descriptor.description).toBe(instrument.description)
        expect(metric.descriptor.unit).toBe(instrument.unit)
        if (instrument.kind === "counter") {
          expect(metric.dataPointType).toBe(DataPointType.SUM)
          expect(metric.dataPointType === DataPointType.SUM && metric.isMonotonic).toBe(true)
          expect(metric.descriptor.valueType).toBe(OtelApi.ValueType.INT)
        } else {
          expect(metric.dataPointType).toBe(DataPointType.HISTOGRAM)
          expect(metric.descriptor.valueType).toBe(OtelApi.ValueType.DOUBLE)
        }
      }
    }))

  it.effect("records one data point per attribute set, with exactly the documented keys, typed values and values", () =>
    Effect.gen(function*() {
      const sdk = yield* makeSdk
      yield* recordAll.pipe(Effect.provide(OtelSmtpMetrics.layer({ meterProvider: sdk.provider })))
      const resourceMetrics = yield* sdk.collect

      for (const { instrument, points } of expected) {
        const metric = metricOf(resourceMetrics, instrument)
        expect(metric.dataPoints, instrument.name).toHaveLength(points.length)
        for (const point of points) {
          const found = (metric.dataPoints as Array<DataPoint<unknown>>).filter((dp) =>
            sameAttributes(dp.attributes, point.attributes)
          )
          expect(found, `${instrument.name} ${JSON.stringify(point.attributes)}`).toHaveLength(1)
          const [dataPoint] = found
          if (dataPoint === undefined) continue
          expect(dataPoint.attributes).toStrictEqual(point.attributes)
          expectWellFormedAttributes(dataPoint.attributes)
          if (metric.dataPointType === DataPointType.SUM) {
            expect(dataPoint.value).toBe(point.value)
          } else if (instrument.kind === "histogram") {
            const histogram = dataPoint.value as Histogram
            expect(histogram.count).toBe(1)
            expect(histogram.sum).toBeCloseTo(point.value, 9)
            expect(histogram.buckets.boundaries).toStrictEqual(instrument.boundaries)
            expect(histogram.buckets.counts).toHaveLength(instrument.boundaries.length + 1)
          }
        }
      }
    }))

  it.effect("applies the presence rules to the exported attributes", () =>
    Effect.gen(function*() {
      const sdk = yield* makeSdk
      yield* recordAll.pipe(Effect.provide(OtelSmtpMetrics.layer({ meterProvider: sdk.provider })))
      const resourceMetrics = yield* sdk.collect
      const points = (instrument: SmtpInstruments.Instrument) =>
        (metricOf(resourceMetrics, instrument).dataPoints as Array<DataPoint<unknown>>).map((dp) => dp.attributes)

      expect(points(SmtpInstruments.socketConnectCount)).toContainEqual({
        "socket.connect.result": "failed",
        "network.peer.address": "192.0.2.2",
        "server.address": host,
        "server.port": 587,
        "error.type": "SocketError",
        "socket.error": 10061
      })
      expect(points(SmtpInstruments.socketConnectDuration)).toContainEqual({
        "socket.connect.result": "cancelled",
        "network.peer.address": "2001:db8::1",
        "server.address": host,
        "server.port": 587,
        "error.type": "cancelled"
      })
      // DNS failed: no peer, a socket.error, no status code.
      expect(points(SmtpInstruments.clientConnectCount)).toContainEqual({
        "server.address": host,
        "server.port": 587,
        "url.scheme": "smtp",
        "error.type": "SocketError",
        "socket.error": 11001
      })
      // A TLS library code shaped like an OS code is still no socket.error.
      expect(points(SmtpInstruments.clientConnectDuration)).toContainEqual({
        "network.peer.address": "192.0.2.1",
        "server.address": host,
        "server.port": 587,
        "url.scheme": "smtp",
        "error.type": "TlsError"
      })
      // A clean close: no error attributes; a 421: the server's code.
      expect(points(SmtpInstruments.clientConnectionDuration)).toContainEqual({
        "network.peer.address": "192.0.2.1",
        "server.address": host,
        "server.port": 587,
        "url.scheme": "smtp"
      })
      expect(points(SmtpInstruments.clientConnectionDuration)).toContainEqual({
        "network.peer.address": "192.0.2.1",
        "server.address": host,
        "server.port": 587,
        "url.scheme": "smtp",
        "error.type": "SmtpCommandError",
        "smtp.status_code": 421
      })
      expect(points(SmtpInstruments.clientSendCount)).toContainEqual({
        "network.peer.address": "192.0.2.1",
        "server.address": host,
        "server.port": 465,
        "url.scheme": "smtps"
      })
      expect(points(SmtpInstruments.clientSendCount)).toContainEqual({
        "network.peer.address": "192.0.2.1",
        "server.address": host,
        "server.port": 587,
        "url.scheme": "smtp",
        "error.type": "AuthenticationError",
        "smtp.status_code": 535
      })
      expect(points(SmtpInstruments.clientSendDuration)).toContainEqual({
        "network.peer.address": "192.0.2.1",
        "server.address": host,
        "server.port": 587,
        "url.scheme": "smtp",
        "error.type": "TimeoutError"
      })
    }))

  it.effect("sums counts and histogram values of repeated events on one series, in the explicit buckets", () =>
    Effect.gen(function*() {
      const sdk = yield* makeSdk
      const event: MessageSendEvent = {
        ...facts,
        peerAddress: "192.0.2.1",
        outcome: { _tag: "Success" },
        durationMs: 0
      }
      const durations = [0.5, 1, 7, 3_000, 200_000]
      yield* Effect.flatMap(
        SmtpMetrics,
        (metrics) =>
          Effect.forEach(durations, (durationMs) => metrics.messageSend({ ...event, durationMs }), { discard: true })
      ).pipe(
        Effect.provide(OtelSmtpMetrics.layer({ meterProvider: sdk.provider }))
      )
      const resourceMetrics = yield* sdk.collect

      const count = metricOf(resourceMetrics, SmtpInstruments.clientSendCount)
      expect(count.dataPoints).toHaveLength(1)
      expect(count.dataPoints[0]?.value).toBe(durations.length)

      const duration = metricOf(resourceMetrics, SmtpInstruments.clientSendDuration)
      expect(duration.dataPoints).toHaveLength(1)
      const histogram = duration.dataPoints[0]?.value as Histogram
      expect(histogram.count).toBe(durations.length)
      expect(histogram.sum).toBeCloseTo(durations.reduce((a, b) => a + b, 0), 9)
      expect(histogram.min).toBe(0.5)
      expect(histogram.max).toBe(200_000)
      const boundaries = SmtpInstruments.millisecondBoundaries
      const expectedCounts = boundaries.map(() => 0).concat([0])
      for (const d of durations) {
        const index = boundaries.findIndex((upper) => d <= upper)
        const bucket = index === -1 ? boundaries.length : index
        expectedCounts[bucket] = (expectedCounts[bucket] ?? 0) + 1
      }
      expect(histogram.buckets.counts).toStrictEqual(expectedCounts)
    }))

  it.effect("uses the second boundaries (5 ms to 1 h) for connection.duration", () =>
    Effect.gen(function*() {
      const sdk = yield* makeSdk
      yield* recordAll.pipe(Effect.provide(OtelSmtpMetrics.layer({ meterProvider: sdk.provider })))
      const resourceMetrics = yield* sdk.collect
      const metric = metricOf(resourceMetrics, SmtpInstruments.clientConnectionDuration)
      for (const dp of metric.dataPoints as Array<DataPoint<Histogram>>) {
        expect(dp.value.buckets.boundaries[0]).toBe(0.005)
        expect(dp.value.buckets.boundaries[dp.value.buckets.boundaries.length - 1]).toBe(3_600)
      }
    }))

  it.effect("defaults to the global MeterProvider, read when the layer is built", () =>
    Effect.gen(function*() {
      const sdk = yield* makeSdk
      yield* Effect.acquireRelease(
        Effect.sync(() => OtelApi.metrics.setGlobalMeterProvider(sdk.provider)),
        () => Effect.sync(() => OtelApi.metrics.disable())
      )
      yield* recordAll.pipe(Effect.provide(OtelSmtpMetrics.layer()))
      const resourceMetrics = yield* sdk.collect
      expect(metricOf(resourceMetrics, SmtpInstruments.clientSendCount).dataPoints).toHaveLength(sendEvents.length)
    }))

  effectProp(
    "for any client event and outcome, the exported attributes are exactly SmtpTelemetry.clientAttributes, ints as ints",
    [
      fc.record({
        serverPort: fc.integer({ min: 1, max: 65_535 }),
        peerAddress: fc.option(fc.oneof(fc.ipV4(), fc.ipV6()), { nil: undefined }),
        scheme: fc.constantFrom<"smtp" | "smtps">("smtp", "smtps"),
        outcome: fc.oneof(
          fc.constant<Outcome>({ _tag: "Success" }),
          fc.constant<Outcome>({ _tag: "Interrupted" }),
          fc.integer({ min: 400, max: 599 }).map((statusCode) =>
            failure(new SmtpError.SmtpCommandError({ command: "DATA", statusCode, serverMessage: "" }))
          ),
          fc.option(fc.constantFrom("ECONNRESET", "EPIPE", "EPROTO"), { nil: undefined }).map((code) =>
            failure(new SmtpError.SocketError({ operation: "write", host, port: 25, code }))
          )
        ),
        durationMs: fc.double({ min: 0, max: 200_000, noNaN: true })
      })
    ],
    ([f]) =>
      Effect.gen(function*() {
        const sdk = yield* makeSdk
        const event: MessageSendEvent = { serverAddress: host, ...f }
        yield* Effect.flatMap(SmtpMetrics, (metrics) => metrics.messageSend(event)).pipe(
          Effect.provide(OtelSmtpMetrics.layer({ meterProvider: sdk.provider }))
        )
        const resourceMetrics = yield* sdk.collect
        const attributes = SmtpTelemetry.clientAttributes(event)
        for (const instrument of [SmtpInstruments.clientSendCount, SmtpInstruments.clientSendDuration]) {
          const metric = metricOf(resourceMetrics, instrument)
          expect(metric.dataPoints).toHaveLength(1)
          expect(metric.dataPoints[0]?.attributes).toStrictEqual(attributes)
          expectWellFormedAttributes(metric.dataPoints[0]?.attributes ?? {})
        }
      }),
    { fastCheck: { numRuns: 30 } }
  )
})
