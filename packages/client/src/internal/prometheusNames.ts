/**
 * Prometheus names per the OpenTelemetry Prometheus compatibility spec: the
 * unit as a word before the type suffix (`ms` is `milliseconds`, `s` is
 * `seconds`, annotations in braces dropped), `_total` for a monotonic counter.
 * .NET's exporter and the OpenTelemetry Collector name a MailKit
 * application's series so; the exporters that do not (the JavaScript
 * OpenTelemetry one, Effect's own) are renamed with these.
 */
import * as SmtpInstruments from "../SmtpInstruments.js"

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
 * @internal
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
 * @internal
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
 * @internal
 */
export const prometheusName = (name: string, unit: string, monotonicCounter: boolean): string => {
  const base = sanitize(withUnit(name, unit))
  return monotonicCounter && !base.endsWith("_total") ? `${base}_total` : base
}

const instruments = new Map<string, SmtpInstruments.Instrument>(
  [...SmtpInstruments.all, ...SmtpInstruments.shipped].map((instrument) => [instrument.name, instrument])
)

/** @internal */
export const metricNameMapper = (name: string): string => {
  const instrument = instruments.get(name)
  if (instrument === undefined) return name
  return prometheusName(instrument.name, instrument.unit, instrument.kind === "counter")
}
