/**
 * Renders collected OpenTelemetry metrics as a plain-text table: one row per
 * data point, with the instrument, kind, unit, attributes and value.
 */
import { DataPointType, type ResourceMetrics } from "@opentelemetry/sdk-metrics"

const formatValue = (value: unknown): string => typeof value === "string" ? JSON.stringify(value) : String(value)

export const metricsTable = (resourceMetrics: ResourceMetrics): string => {
  const rows: Array<ReadonlyArray<string>> = [["meter", "instrument", "kind", "unit", "attributes", "value"]]
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const kind = metric.dataPointType === DataPointType.HISTOGRAM ? "histogram" : "counter"
      for (const point of metric.dataPoints) {
        const attributes = Object.entries(point.attributes).map(([k, v]) => `${k}=${formatValue(v)}`).join(" ")
        const value = typeof point.value === "number"
          ? String(point.value)
          : (() => {
            const h = point.value as { count: number; sum?: number }
            return `count=${h.count} sum=${(h.sum ?? 0).toFixed(3)}`
          })()
        rows.push([scope.scope.name, metric.descriptor.name, kind, metric.descriptor.unit, attributes, value])
      }
    }
  }
  const widths = rows[0].map((_, i) => Math.min(60, Math.max(...rows.map((r) => r[i].length))))
  return rows.map((row, r) => {
    const line = row.map((cell, i) => i === row.length - 1 || i === 4 ? cell : cell.padEnd(widths[i])).join("  ")
    return r === 0 ? `${line}\n${"-".repeat(Math.min(160, line.length + 40))}` : line
  }).join("\n")
}
