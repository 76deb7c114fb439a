// SmtpMetrics.layer (the Effect `Metric` backend of @effect-smtp/client)
// exported through @effect/opentelemetry, as an application wires it with
// NodeSdk.layer. It lives here because this package has the OpenTelemetry SDK.
import * as SmtpInstruments from "@effect-smtp/client/SmtpInstruments"
import { SmtpMetrics } from "@effect-smtp/client/SmtpMetrics"
import * as SmtpTelemetry from "@effect-smtp/client/SmtpTelemetry"
import { describe, expect, it } from "@effect/vitest"
import { DataPointType, type Histogram } from "@opentelemetry/sdk-metrics"
import * as Effect from "effect/Effect"
import { events, exportThrough, only, recordAll, stringified, uniqueHost } from "./fixtures/effectMetricExport.js"

describe("SmtpMetrics.layer exported through @effect/opentelemetry", () => {
  it.effect("exports the seven names with their descriptions, kinds, buckets and the documented keys as strings", () =>
    Effect.gen(function*() {
      const host = uniqueHost()
      const resourceMetrics = yield* exportThrough(SmtpMetrics.layer, recordAll(host))
      const metrics = only(resourceMetrics, host)
      const { send, socket } = events(host)

      expect(metrics.map((m) => m.descriptor.name).sort()).toStrictEqual(
        SmtpInstruments.all.map((i) => i.name).sort()
      )
      for (const instrument of SmtpInstruments.all) {
        const metric = metrics.find((m) => m.descriptor.name === instrument.name)
        if (metric === undefined) throw new Error(`${instrument.name} was not exported`)
        expect(metric.descriptor.description).toBe(instrument.description)
        // Effect's Metric has no unit: @effect/opentelemetry falls back to "1".
        expect(metric.descriptor.unit).toBe("1")
        expect(metric.dataPoints).toHaveLength(1)
        if (instrument.kind === "counter") {
          expect(metric.dataPointType).toBe(DataPointType.SUM)
          expect(metric.dataPointType === DataPointType.SUM && metric.isMonotonic).toBe(true)
          expect(metric.dataPoints[0]?.value).toBe(1)
        } else {
          expect(metric.dataPointType).toBe(DataPointType.HISTOGRAM)
          const histogram = metric.dataPoints[0]?.value as Histogram
          expect(histogram.buckets.boundaries).toStrictEqual(instrument.boundaries)
          expect(histogram.count).toBe(1)
        }
      }

      const attributesOf = (instrument: SmtpInstruments.Instrument) =>
        metrics.find((m) => m.descriptor.name === instrument.name)?.dataPoints[0]?.attributes
      expect(attributesOf(SmtpInstruments.socketConnectCount)).toStrictEqual(
        stringified(SmtpTelemetry.socketConnectAttributes(socket))
      )
      expect(attributesOf(SmtpInstruments.socketConnectCount)).toMatchObject({
        "server.port": "587",
        "socket.error": "10061"
      })
      expect(attributesOf(SmtpInstruments.clientSendDuration)).toStrictEqual(
        stringified(SmtpTelemetry.clientAttributes(send))
      )
      expect(attributesOf(SmtpInstruments.clientSendDuration)).toMatchObject({ "smtp.status_code": "554" })
      expect(
        (metrics.find((m) => m.descriptor.name === SmtpInstruments.clientSendDuration.name)
          ?.dataPoints[0]?.value as Histogram).sum
      ).toBe(40)
    }))
})
