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

/**
 * The spec's words for the units' abbreviations (UCUM), as the Collector's
 * and Prometheus's translators map them.
 */
const words: Readonly<Record<string, string>> = {
  d: "days",
  h: "hours",
  min: "minutes",
  s: "seconds",
  ms: "milliseconds",
  us: "microseconds",
  ns: "nanoseconds",
  By: "bytes",
  KiBy: "kibibytes",
  MiBy: "mebibytes",
  GiBy: "gibibytes",
  TiBy: "tibibytes",
  KBy: "kilobytes",
  MBy: "megabytes",
  GBy: "gigabytes",
  TBy: "terabytes",
  m: "meters",
  V: "volts",
  A: "amperes",
  J: "joules",
  W: "watts",
  g: "grams",
  Cel: "celsius",
  Hz: "hertz",
  "%": "percent"
}

/** Units after a `/`, singular, as the translators name them. */
const perWords: Readonly<Record<string, string>> = {
  s: "second",
  m: "minute",
  h: "hour",
  d: "day",
  w: "week",
  mo: "month",
  y: "year"
}

const sanitize = (text: string): string => text.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/_{2,}/g, "_")

/**
 * The word a unit adds to a metric's name: `"milliseconds"` for `ms`,
 * `"seconds"` for `s`, `""` for a unit that is only an annotation
 * (`{operation}`) or `1`; `By/s` is `bytes_per_second`.
 *
 * @since 0.2.0
 * @category naming
 */
export const unitSuffix = (unit: string): string => {
  const plain = unit.replace(/\{[^}]*\}/g, "").trim()
  if (plain === "" || plain === "1") return ""
  const [numerator = "", denominator] = plain.split("/", 2)
  const parts = [
    words[numerator] ?? sanitize(numerator),
    ...(denominator === undefined ? [] : ["per", perWords[denominator] ?? sanitize(denominator)])
  ]
  return sanitize(parts.filter((part) => part !== "").join("_")).replace(/^_|_$/g, "")
}

/**
 * A metric's name with its unit word appended, unless the name already ends
 * with it, as the spec's exporters write it before the type suffix.
 *
 * @since 0.2.0
 * @category naming
 */
export const withUnit = (name: string, unit: string): string => {
  const suffix = unitSuffix(unit)
  if (suffix === "") return name
  return sanitize(name).endsWith(`_${suffix}`) ? name : `${name}_${suffix}`
}

/**
 * The full Prometheus name of a metric per the compatibility spec: dots (and
 * anything else Prometheus refuses) to underscores, the unit word, and
 * `_total` for a monotonic counter. A histogram's series add `_bucket`,
 * `_sum` and `_count` to it.
 *
 * @since 0.2.0
 * @category naming
 */
export const prometheusName = (name: string, unit: string, monotonicCounter: boolean): string => {
  const base = sanitize(withUnit(name, unit))
  return monotonicCounter && !base.endsWith("_total") ? `${base}_total` : base
}

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
