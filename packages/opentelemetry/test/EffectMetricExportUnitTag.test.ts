// SmtpMetrics.layerWith({ unitTag: true }) exported through @effect/opentelemetry.
// A file of its own: see fixtures/effectMetricExport.ts.
import * as SmtpInstruments from "@effect-smtp/client/SmtpInstruments"
import { SmtpMetrics } from "@effect-smtp/client/SmtpMetrics"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { exportThrough, only, recordAll, uniqueHost } from "./fixtures/effectMetricExport.js"

describe("SmtpMetrics.layerWith({ unitTag: true }) exported through @effect/opentelemetry", () => {
  it.effect("with layerWith({ unitTag: true }) the exported unit is the documented one", () =>
    Effect.gen(function*() {
      const host = uniqueHost()
      const resourceMetrics = yield* exportThrough(SmtpMetrics.layerWith({ unitTag: true }), recordAll(host))
      const metrics = only(resourceMetrics, host)
      expect(metrics).toHaveLength(SmtpInstruments.all.length)
      for (const instrument of SmtpInstruments.all) {
        const metric = metrics.find((m) => m.descriptor.name === instrument.name)
        expect(metric?.descriptor.unit, instrument.name).toBe(instrument.unit)
        expect(metric?.dataPoints[0]?.attributes["unit"]).toBe(instrument.unit)
      }
    }))
})
