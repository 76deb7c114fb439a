/**
 * Telemetry events of effect-smtp, one method per event that MailKit's
 * documented metrics record. The Socket and the client call these with the
 * facts and the outcome; a backend turns them into instruments.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"
import type { SmtpError } from "./SmtpError.js"
import * as SmtpInstruments from "./SmtpInstruments.js"
import * as SmtpTelemetry from "./SmtpTelemetry.js"

/**
 * How an operation ended: success, a typed failure, or interruption.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome =
  | { readonly _tag: "Success" }
  | { readonly _tag: "Failure"; readonly error: SmtpError }
  | { readonly _tag: "Interrupted" }

/**
 * One TCP connect attempt to one resolved IP (`mailkit.net.socket.connect.*`).
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketConnectEvent {
  readonly serverAddress: string
  readonly serverPort: number
  readonly peerAddress: string
  readonly outcome: Outcome
  readonly durationMs: number
}

/**
 * Facts common to the client instruments (`mailkit.net.smtp.client.*`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientFacts {
  readonly serverAddress: string
  readonly serverPort: number
  /** Absent when no connection was made. */
  readonly peerAddress?: string | undefined
  readonly scheme: "smtp" | "smtps"
}

/**
 * A client connect: DNS, TCP, TLS, greeting, EHLO, STARTTLS, EHLO.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientConnectEvent extends ClientFacts {
  readonly outcome: Outcome
  readonly durationMs: number
}

/**
 * The end of an established session. Success: closed on purpose (QUIT, scope
 * close); Failure: ended involuntarily.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionEndEvent extends ClientFacts {
  readonly outcome: Outcome
  readonly durationSeconds: number
}

/**
 * One message, from MAIL FROM to the final reply to DATA / BDAT.
 *
 * @since 0.1.0
 * @category models
 */
export interface MessageSendEvent extends ClientFacts {
  readonly outcome: Outcome
  readonly durationMs: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SmtpMetricsService {
  readonly socketConnect: (event: SocketConnectEvent) => Effect.Effect<void>
  readonly clientConnect: (event: ClientConnectEvent) => Effect.Effect<void>
  readonly connectionEnd: (event: ConnectionEndEvent) => Effect.Effect<void>
  readonly messageSend: (event: MessageSendEvent) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class SmtpMetrics extends Context.Tag("@effect-smtp/client/SmtpMetrics")<SmtpMetrics, SmtpMetricsService>() {
  /**
   * Records the seven instruments as Effect `Metric`s. See the module-level
   * `layer` for what travels and what does not.
   *
   * @since 0.1.0
   * @category layers
   */
  static get layer(): Layer.Layer<SmtpMetrics> {
    return layer
  }

  /**
   * `layer` with options, e.g. `{ unitTag: true }`.
   *
   * @since 0.1.0
   * @category layers
   */
  static layerWith(options: EffectMetricOptions): Layer.Layer<SmtpMetrics> {
    return layerWith(options)
  }

  /**
   * Records nothing.
   *
   * @since 0.1.0
   * @category layers
   */
  static get layerNoop(): Layer.Layer<SmtpMetrics> {
    return layerNoop
  }
}

/**
 * Records nothing.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNoop: Layer.Layer<SmtpMetrics> = Layer.succeed(SmtpMetrics, {
  socketConnect: () => Effect.void,
  clientConnect: () => Effect.void,
  connectionEnd: () => Effect.void,
  messageSend: () => Effect.void
})

/**
 * Options of the Effect `Metric` backend.
 *
 * @since 0.1.0
 * @category models
 */
export interface EffectMetricOptions {
  /**
   * Adds a constant `unit` tag (`ms`, `s`, `{attempt}`, `{message}`) to every
   * metric. Effect's `Metric` has no unit field; `@effect/opentelemetry` reads
   * the instrument unit from a `unit` tag, so with this on the exported unit is
   * right, at the price of one extra attribute key the spec does not list.
   * Off by default: the attribute keys are then exactly the documented ones.
   *
   * Pick one setting per process: `@effect/opentelemetry` takes a metric's
   * unit from the first series it meets, so a process recording both with and
   * without the tag exports whichever comes first.
   */
  readonly unitTag?: boolean | undefined
}

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
    for (const name in attributes) key += `${name}=${attributes[name as keyof typeof attributes]}\u0000`
    let tagged = cache.get(key)
    if (tagged === undefined) {
      tagged = tag(labelsOf(attributes, unit))
      cache.set(key, tagged)
    }
    return tagged
  }
}

type Counter = Metric.Metric.Counter<number>
type Histogram = Metric.Metric.Histogram<number>

const counterOf = (instrument: SmtpInstruments.Counter, options: EffectMetricOptions) => {
  // `incremental` makes @effect/opentelemetry export a monotonic SUM (an
  // OpenTelemetry Counter) rather than an UpDownCounter.
  const key = MetricKey.counter(instrument.name, { description: instrument.description, incremental: true })
  return taggedCache(
    (labels): Counter => Metric.fromMetricKey(MetricKey.taggedWithLabels(key, labels)),
    options.unitTag === true ? instrument.unit : undefined
  )
}

const histogramOf = (instrument: SmtpInstruments.Histogram, options: EffectMetricOptions) => {
  const key = MetricKey.histogram(
    instrument.name,
    MetricBoundaries.fromIterable(instrument.boundaries),
    instrument.description
  )
  return taggedCache(
    (labels): Histogram => Metric.fromMetricKey(MetricKey.taggedWithLabels(key, labels)),
    options.unitTag === true ? instrument.unit : undefined
  )
}

/** A count and a duration recorded together, with the tags `Effect.tagMetrics` adds around the call. */
const record = (count: Counter, duration: Histogram, value: number): Effect.Effect<void> =>
  FiberRef.getWith(FiberRef.currentMetricLabels, (extraTags) =>
    Effect.sync(() => {
      count.unsafeUpdate(1, extraTags)
      duration.unsafeUpdate(value, extraTags)
    }))

/**
 * The client instruments' pair for one event. A success's attributes are
 * the facts alone, so they are looked up by the facts without being built.
 */
const clientPair = (
  counter: (attributes: SmtpTelemetry.Attributes) => Counter,
  histogram: (attributes: SmtpTelemetry.Attributes) => Histogram
) => {
  const successes = new Map<string, readonly [Counter, Histogram]>()
  return (event: ClientFacts & { readonly outcome: Outcome }): readonly [Counter, Histogram] => {
    if (event.outcome._tag !== "Success") {
      const attributes = SmtpTelemetry.clientAttributes(event)
      return [counter(attributes), histogram(attributes)]
    }
    const key = `${event.peerAddress ?? ""}\u0000${event.serverAddress}\u0000${event.serverPort}\u0000${event.scheme}`
    let pair = successes.get(key)
    if (pair === undefined) {
      const attributes = SmtpTelemetry.clientAttributes(event)
      pair = [counter(attributes), histogram(attributes)]
      successes.set(key, pair)
    }
    return pair
  }
}

const makeEffectMetric = (options: EffectMetricOptions): SmtpMetricsService => {
  const socketConnectCount = counterOf(SmtpInstruments.socketConnectCount, options)
  const socketConnectDuration = histogramOf(SmtpInstruments.socketConnectDuration, options)
  const clientConnect = clientPair(
    counterOf(SmtpInstruments.clientConnectCount, options),
    histogramOf(SmtpInstruments.clientConnectDuration, options)
  )
  const clientConnectionDuration = histogramOf(SmtpInstruments.clientConnectionDuration, options)
  const messageSend = clientPair(
    counterOf(SmtpInstruments.clientSendCount, options),
    histogramOf(SmtpInstruments.clientSendDuration, options)
  )
  return {
    socketConnect: (event) =>
      Effect.suspend(() => {
        const attributes = SmtpTelemetry.socketConnectAttributes(event)
        return record(socketConnectCount(attributes), socketConnectDuration(attributes), event.durationMs)
      }),
    clientConnect: (event) =>
      Effect.suspend(() => {
        const [count, duration] = clientConnect(event)
        return record(count, duration, event.durationMs)
      }),
    connectionEnd: (event) =>
      Effect.suspend(() =>
        Metric.update(clientConnectionDuration(SmtpTelemetry.clientAttributes(event)), event.durationSeconds)
      ),
    messageSend: (event) =>
      Effect.suspend(() => {
        const [count, duration] = messageSend(event)
        return record(count, duration, event.durationMs)
      })
  }
}

/**
 * `layer` with options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: EffectMetricOptions): Layer.Layer<SmtpMetrics> =>
  Layer.sync(SmtpMetrics, () => makeEffectMetric(options))

/**
 * The Effect `Metric` backend: the seven documented instruments as Effect
 * counters (incremental) and histograms (explicit boundaries from
 * `SmtpInstruments`), with the documented descriptions and attribute keys.
 * Export them with `@effect/opentelemetry` (`Metrics.layer` / `NodeSdk.layer`)
 * or read them with `Metric.snapshot`.
 *
 * What differs from the OpenTelemetry backend (`@effect-smtp/opentelemetry`),
 * because Effect's `Metric` (v3) cannot express it:
 * - Tag values are strings: `server.port`, `smtp.status_code` and
 *   `socket.error` carry their decimal text (`"587"`), not ints.
 * - There is no unit field: `@effect/opentelemetry` exports unit `"1"` unless
 *   `layerWith({ unitTag: true })` adds a `unit` tag it reads.
 * - There is no meter: `@effect/opentelemetry` exports every Effect metric
 *   under its own scope (`@effect/opentelemetry/Metrics`), not under
 *   `mailkit.net.socket` / `mailkit.net.smtp`.
 * - Effect's metric registry is process-wide: two layers record into the same
 *   metrics.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<SmtpMetrics> = layerWith({})
