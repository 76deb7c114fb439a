/**
 * Prometheus names as the OpenTelemetry Prometheus compatibility spec gives
 * them, and a way to get them from the JavaScript exporter.
 *
 * The spec says an exporter SHOULD add the unit to a metric's name (words,
 * not abbreviations: `ms` is `milliseconds`, `s` is `seconds`; annotations in
 * braces are dropped) before the type suffix (`_total`, `_bucket`...). .NET's
 * Prometheus exporter and the OpenTelemetry Collector do, so a MailKit
 * application's histograms are `..._duration_milliseconds_bucket` and
 * `..._duration_seconds_bucket`. `@opentelemetry/exporter-prometheus` (up to
 * 0.301 at least) adds only `_total` and has no option for the rest, so the
 * same instruments come out as `..._duration_bucket`. `withUnitSuffixes`
 * renames what a reader collected, for that exposition only, so the
 * JavaScript exporter prints the spec's names; the instruments keep theirs
 * (in OTLP, in every other reader).
 *
 * @since 0.2.0
 */

import { SmtpPrometheus } from "@effect-smtp/client"

/**
 * The word a unit adds to a metric's name (`SmtpPrometheus.unitSuffix`).
 *
 * @since 0.2.0
 * @category naming
 */
export const unitSuffix: (unit: string) => string = SmtpPrometheus.unitSuffix

/**
 * A metric's name with its unit word appended (`SmtpPrometheus.withUnit`).
 *
 * @since 0.2.0
 * @category naming
 */
export const withUnit: (name: string, unit: string) => string = SmtpPrometheus.withUnit

/**
 * The full Prometheus name of a metric per the compatibility spec (`SmtpPrometheus.prometheusName`).
 *
 * @since 0.2.0
 * @category naming
 */
export const prometheusName: (name: string, unit: string, monotonicCounter: boolean) => string =
  SmtpPrometheus.prometheusName

/** The part of a collection `withUnitSuffixes` reads and rewrites. */
interface Collected {
  readonly scopeMetrics: ReadonlyArray<{
    readonly metrics: ReadonlyArray<{ readonly descriptor: { readonly name: string; readonly unit: string } }>
  }>
}

/**
 * A collection (the `resourceMetrics` a `MetricReader` collects) with every
 * metric renamed to carry its unit word, so that a serializer that adds only
 * the type suffix (the JavaScript `PrometheusExporter`) prints the spec's
 * names, the ones a MailKit application's exporters print. Use it in the
 * exporter's `collect`:
 *
 * ```ts
 * class UnitSuffixedPrometheusExporter extends PrometheusExporter {
 *   override async collect(options?: Parameters<PrometheusExporter["collect"]>[0]) {
 *     const collected = await super.collect(options)
 *     return { ...collected, resourceMetrics: PrometheusNaming.withUnitSuffixes(collected.resourceMetrics) }
 *   }
 * }
 * ```
 *
 * @since 0.2.0
 * @category naming
 */
export const withUnitSuffixes = <R extends Collected>(resourceMetrics: R): R => ({
  ...resourceMetrics,
  scopeMetrics: resourceMetrics.scopeMetrics.map((scope) => ({
    ...scope,
    metrics: scope.metrics.map((metric) => ({
      ...metric,
      descriptor: { ...metric.descriptor, name: withUnit(metric.descriptor.name, metric.descriptor.unit) }
    }))
  }))
  // The same shape with new names: the caller's own collection type.
} as R)
