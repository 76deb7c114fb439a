/**
 * The Effect `Metric` backend of `SmtpMetrics`: a profile's instruments as
 * Effect counters and histograms in Effect's process-wide registry, exported
 * by `@effect/opentelemetry` or read with `Metric.snapshot`.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"
import type * as SmtpInstruments from "../SmtpInstruments.js"
import type { ClientFacts, EffectMetricOptions, Outcome, SmtpMetricsService } from "../SmtpMetrics.js"
import type * as SmtpTelemetry from "../SmtpTelemetry.js"
import * as SmtpTelemetryProfile from "../SmtpTelemetryProfile.js"

type Counter = Metric.Metric.Counter<number>
type Histogram = Metric.Metric.Histogram<number>

const labelsOf = (
  attributes: SmtpTelemetry.Attributes,
  unit: SmtpInstruments.Unit | undefined
): ReadonlyArray<MetricLabel.MetricLabel> => {
  // Effect tags are strings: ints (server.port, smtp.status_code, socket.error)
  // travel as their decimal text.
  const labels = Object.entries(attributes).map(([key, value]) => MetricLabel.make(key, String(value)))
  return unit === undefined ? labels : [...labels, MetricLabel.make("unit", unit)]
}

/**
 * Each attribute set gets a metric of its own, made once and kept: its key
 * carries the tags, so an update finds its registry entry without building
 * and hashing a tagged key (as `Metric.tagged` does on every update). The
 * attribute sets are few: no message or recipient is ever an attribute.
 */
const taggedCache = <M>(
  tag: (labels: ReadonlyArray<MetricLabel.MetricLabel>) => M,
  unit: SmtpInstruments.Unit | undefined
) => {
  const cache = new Map<string, M>()
  return (attributes: SmtpTelemetry.Attributes): M => {
    let key = ""
    for (const name in attributes) key += `${name}=${attributes[name]}\u0000`
    let tagged = cache.get(key)
    if (tagged === undefined) {
      tagged = tag(labelsOf(attributes, unit))
      cache.set(key, tagged)
    }
    return tagged
  }
}

/** A count and a duration recorded together, with the tags `Effect.tagMetrics` adds around the call. */
const record = (count: Counter, duration: Histogram, value: number): Effect.Effect<void> =>
  FiberRef.getWith(FiberRef.currentMetricLabels, (extraTags) =>
    Effect.sync(() => {
      count.unsafeUpdate(1, extraTags)
      duration.unsafeUpdate(value, extraTags)
    }))

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
      const key = MetricKey.counter(instrument.name, { description: instrument.description, incremental: true })
      tagged = taggedCache(
        (labels): Counter => Metric.fromMetricKey(MetricKey.taggedWithLabels(key, labels)),
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
      const key = MetricKey.histogram(
        instrument.name,
        MetricBoundaries.fromIterable(instrument.boundaries),
        instrument.description
      )
      tagged = taggedCache(
        (labels): Histogram => Metric.fromMetricKey(MetricKey.taggedWithLabels(key, labels)),
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
