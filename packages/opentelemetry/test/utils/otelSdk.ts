/**
 * An OpenTelemetry metrics SDK private to one test: a `MeterProvider` whose
 * only reader is collected by hand and exported into an
 * `InMemoryMetricExporter`, so a test sees exactly what an exporter would and
 * nothing runs on a timer.
 */
import type * as OtelApi from "@opentelemetry/api"
import {
  AggregationTemporality,
  type DataPoint,
  DataPointType,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  MetricReader,
  type ResourceMetrics
} from "@opentelemetry/sdk-metrics"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** Collects only when asked. */
class ManualReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve()
  }
}

/** One exported metric, flattened for assertions and for reading. */
export interface ExportedMetric {
  readonly scope: string
  readonly scopeVersion: string | undefined
  readonly name: string
  readonly kind: "counter" | "histogram" | "other"
  readonly monotonic: boolean
  readonly valueType: OtelApi.ValueType
  readonly unit: string
  readonly description: string
  readonly points: ReadonlyArray<ExportedPoint>
}

export interface ExportedPoint {
  readonly attributes: OtelApi.Attributes
  /** The counter's sum, or the histogram's count. */
  readonly count: number
  /** The histogram's sum (undefined for counters). */
  readonly sum: number | undefined
  readonly boundaries: ReadonlyArray<number> | undefined
}

const flatten = (resourceMetrics: ResourceMetrics): ReadonlyArray<ExportedMetric> =>
  resourceMetrics.scopeMetrics.flatMap((scope) =>
    scope.metrics.map((metric: MetricData): ExportedMetric => ({
      scope: scope.scope.name,
      scopeVersion: scope.scope.version,
      name: metric.descriptor.name,
      kind: metric.dataPointType === DataPointType.SUM
        ? "counter"
        : metric.dataPointType === DataPointType.HISTOGRAM
        ? "histogram"
        : "other",
      monotonic: metric.dataPointType === DataPointType.SUM && metric.isMonotonic,
      valueType: metric.descriptor.valueType,
      unit: metric.descriptor.unit,
      description: metric.descriptor.description,
      points: (metric.dataPoints as Array<DataPoint<number | Histogram>>).map((point) =>
        typeof point.value === "number"
          ? { attributes: point.attributes, count: point.value, sum: undefined, boundaries: undefined }
          : {
            attributes: point.attributes,
            count: point.value.count,
            sum: point.value.sum,
            boundaries: point.value.buckets.boundaries
          }
      )
    }))
  )

export interface TestSdk {
  readonly meterProvider: MeterProvider
  /** Everything recorded so far (cumulative), as exported. */
  readonly collect: Effect.Effect<ReadonlyArray<ExportedMetric>>
}

/** A fresh provider per scope; shut down when the scope closes. */
export const testSdk: Effect.Effect<TestSdk, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => {
    const reader = new ManualReader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const meterProvider = new MeterProvider({ readers: [reader] })
    const collect = Effect.promise(async () => {
      const { errors, resourceMetrics } = await reader.collect()
      if (errors.length > 0) throw new AggregateError(errors, "metric collection failed")
      exporter.reset()
      await new Promise<void>((resolve, reject) =>
        exporter.export(resourceMetrics, (result) => result.error === undefined ? resolve() : reject(result.error))
      )
      const exported = exporter.getMetrics()
      return exported.length === 0 ? [] : flatten(exported[exported.length - 1]!)
    })
    return { meterProvider, collect }
  }),
  ({ meterProvider }) => Effect.promise(() => meterProvider.shutdown())
)

/** A readable dump: one line per data point. */
export const dump = (metrics: ReadonlyArray<ExportedMetric>): string =>
  metrics
    .flatMap((metric) =>
      metric.points.map((point) =>
        `${metric.name} [${metric.unit}] ${JSON.stringify(point.attributes)} ${
          metric.kind === "counter" ? `value=${point.count}` : `count=${point.count} sum=${point.sum}`
        }`
      )
    )
    .join("\n")
