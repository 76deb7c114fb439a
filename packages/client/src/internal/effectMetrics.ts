/**
 * The Effect `Metric` backend of `SmtpMetrics`: a profile's instruments as
 * Effect counters and histograms in Effect's process-wide registry, exported
 * by `@effect/opentelemetry` or read with `Metric.snapshot`.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as SmtpInstruments from "../SmtpInstruments.js"
import type { ClientFacts, EffectMetricOptions, Outcome, SmtpMetricsService } from "../SmtpMetrics.js"
import type * as SmtpTelemetry from "../SmtpTelemetry.js"
import * as SmtpTelemetryProfile from "../SmtpTelemetryProfile.js"

type Counter = Metric.Counter<number>
type Histogram = Metric.Histogram<number>

const attributesOf = (
  attributes: SmtpTelemetry.Attributes,
  unit: SmtpInstruments.Unit | undefined
): Record<string, string> => {
  // Effect metric attributes are strings: ints (server.port, smtp.status_code,
  // socket.error) travel as their decimal text.
  const record: Record<string, string> = {}
  for (const name in attributes) record[name] = String(attributes[name])
  if (unit !== undefined) record.unit = unit
  return record
}

/**
 * Each attribute set gets a metric of its own, made once and kept: it carries
 * its attributes, so an update finds its registry entry by a key computed once
 * (as `Metric.withAttributes` would not, wrapping the metric on every update).
 * The attribute sets are few: no message or recipient is ever an attribute.
 */
const taggedCache = <M>(
  make: (attributes: Record<string, string>) => M,
  unit: SmtpInstruments.Unit | undefined
) => {
  const cache = new Map<string, M>()
  return (attributes: SmtpTelemetry.Attributes): M => {
    let key = ""
    for (const name in attributes) key += `${name}=${attributes[name]}\u0000`
    let tagged = cache.get(key)
    if (tagged === undefined) {
      tagged = make(attributesOf(attributes, unit))
      cache.set(key, tagged)
    }
    return tagged
  }
}

/**
 * A count and a duration recorded together, in the fiber's context: its metric
 * registry, and the attributes `Metric.CurrentMetricAttributes` adds around the call.
 */
const record = (count: Counter, duration: Histogram, value: number): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    count.updateUnsafe(1, fiber.context)
    duration.updateUnsafe(value, fiber.context)
    return Effect.void
  })

/** @internal */
export const make = (options: EffectMetricOptions): SmtpMetricsService => {
  const profile = SmtpTelemetryProfile.of(options.profile ?? "documented")
  const unitOf = (instrument: SmtpInstruments.Instrument) => options.unitTag === true ? instrument.unit : undefined

  // One tagged cache per instrument, shared by every observation recorded into it.
  const counters = new Map<string, (attributes: SmtpTelemetry.Attributes) => Counter>()
  const counterOf = (instrument: SmtpInstruments.Counter) => {
    let tagged = counters.get(instrument.name)
    if (tagged === undefined) {
      // `incremental` makes @effect/opentelemetry export a monotonic SUM (an
      // OpenTelemetry Counter) rather than an UpDownCounter.
      tagged = taggedCache(
        (attributes): Counter =>
          Metric.counter(instrument.name, { description: instrument.description, incremental: true, attributes }),
        unitOf(instrument)
      )
      counters.set(instrument.name, tagged)
    }
    return tagged
  }
  const histograms = new Map<string, (attributes: SmtpTelemetry.Attributes) => Histogram>()
  const histogramOf = (instrument: SmtpInstruments.Histogram) => {
    let tagged = histograms.get(instrument.name)
    if (tagged === undefined) {
      // The bounds as given, then +Inf: `Metric.boundariesFromIterable` drops
      // a bound of 0, the first of the SDK's default buckets (shipped profile).
      const boundaries = [...new Set(instrument.boundaries), Number.POSITIVE_INFINITY]
      tagged = taggedCache(
        (attributes): Histogram =>
          Metric.histogram(instrument.name, { description: instrument.description, boundaries, attributes }),
        unitOf(instrument)
      )
      histograms.set(instrument.name, tagged)
    }
    return tagged
  }

  const socketCount = counterOf(profile.socketConnect.count)
  const socketDuration = histogramOf(profile.socketConnect.duration)
  const connection = histogramOf(profile.connection)
  return SmtpTelemetryProfile.service(profile, {
    socketConnect: (event) =>
      Effect.suspend(() => {
        const attributes = profile.attributes({ _tag: "SocketConnect", ...event })
        return record(socketCount(attributes), socketDuration(attributes), event.durationMs)
      }),
    /**
     * A success's attributes depend on the facts alone, so its metrics are
     * looked up by the facts without the attributes being built.
     */
    operation: (operation, pair) => {
      const counter = counterOf(pair.count)
      const histogram = histogramOf(pair.duration)
      const successes = new Map<string, readonly [Counter, Histogram]>()
      const metricsOf = (event: ClientFacts & { readonly outcome: Outcome }): readonly [Counter, Histogram] => {
        if (event.outcome._tag !== "Success") {
          const attributes = profile.attributes({ _tag: "Operation", operation, ...event })
          return [counter(attributes), histogram(attributes)]
        }
        const key = `${
          event.peerAddress ?? ""
        }\u0000${event.serverAddress}\u0000${event.serverPort}\u0000${event.scheme}`
        let found = successes.get(key)
        if (found === undefined) {
          const attributes = profile.attributes({ _tag: "Operation", operation, ...event })
          found = [counter(attributes), histogram(attributes)]
          successes.set(key, found)
        }
        return found
      }
      return (event) =>
        Effect.suspend(() => {
          const [count, duration] = metricsOf(event)
          return record(count, duration, event.durationMs)
        })
    },
    connectionEnd: (event, seconds) =>
      Effect.suspend(() => Metric.update(connection(profile.attributes({ _tag: "ConnectionEnd", ...event })), seconds))
  })
}
