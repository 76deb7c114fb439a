/**
 * The `SmtpMetrics` service on the OpenTelemetry Meter API, for either
 * telemetry profile: the instruments on the meters `mailkit.net.socket` and
 * `mailkit.net.smtp` with their units and descriptions, int values for
 * `server.port`, `smtp.status_code` and `socket.error` (which Effect's own
 * `Metric` can only carry as strings), and bucket advice where the profile
 * gives it. With the shipped profile the meters have MailKit's version `0.1`
 * and the client's spans are made on the tracer `MailKit.Net.SmtpClient`
 * (version `0.1`), as MailKit makes them.
 *
 * @since 0.1.0
 */
import type * as SmtpInstruments from "@effect-smtp/client/SmtpInstruments"
import { SmtpMetrics, type SmtpMetricsService } from "@effect-smtp/client/SmtpMetrics"
import * as SmtpTelemetryProfile from "@effect-smtp/client/SmtpTelemetryProfile"
import * as OtelApi from "@opentelemetry/api"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Tracer from "effect/Tracer"
import * as scopedTracer from "./internal/scopedTracer.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Where the meters come from. Defaults to the global provider
   * (`metrics.getMeterProvider()` of `@opentelemetry/api`), read when the layer
   * is built: register the global provider before that, since the API returns
   * no-op meters, not proxies, while none is registered.
   */
  readonly meterProvider?: OtelApi.MeterProvider | undefined
  /**
   * Which instruments and spans: `"documented"` (the default: MailKit's
   * telemetry documentation) or `"shipped"` (what MailKit 4.7 to 4.17 emit).
   *
   * @since 0.2.0
   */
  readonly profile?: SmtpTelemetryProfile.Name | undefined
  /**
   * Where the shipped profile's spans go (the tracer `MailKit.Net.SmtpClient`).
   * Defaults to the `OtelTracerProvider` of `@effect/opentelemetry` in the
   * sending fiber's context, else the global provider. That package's
   * `NodeSdk.layerTracerProvider`, `WebSdk.layerTracerProvider` and
   * `OtelTracer.layerGlobalProvider` provide it (keep it in the context with
   * `Layer.provideMerge`); `NodeSdk.layer` and `OtelTracer.layerGlobal` use it
   * up without providing it, so with them the global provider is used. The
   * documented profile's spans are made on Effect's current tracer and ignore
   * this.
   *
   * @since 0.2.0
   */
  readonly tracerProvider?: OtelApi.TracerProvider | undefined
}

/**
 * The service `@effect/opentelemetry` provides its `TracerProvider` as
 * (`OtelTracer.OtelTracerProvider`), found by its key so that this package
 * does not depend on `@effect/opentelemetry`; a test pins the key.
 *
 * @since 0.2.0
 * @category tags
 */
export const EffectOtelTracerProvider: Context.Service<OtelApi.TracerProvider, OtelApi.TracerProvider> = Context
  .Service<OtelApi.TracerProvider>("@effect/opentelemetry/Tracer/OtelTracerProvider")

const counterOf = (meter: OtelApi.Meter, instrument: SmtpInstruments.Counter): OtelApi.Counter =>
  meter.createCounter(instrument.name, {
    description: instrument.description,
    unit: instrument.unit,
    // Counts of attempts, messages and operations are whole numbers.
    valueType: OtelApi.ValueType.INT
  })

const histogramOf = (meter: OtelApi.Meter, instrument: SmtpInstruments.Histogram): OtelApi.Histogram =>
  meter.createHistogram(instrument.name, {
    description: instrument.description,
    unit: instrument.unit,
    valueType: OtelApi.ValueType.DOUBLE,
    // Advice, not a View: an application's own View still wins. Without it
    // (the shipped profile, as in MailKit) the SDK's defaults apply.
    ...(instrument.advice ? { advice: { explicitBucketBoundaries: [...instrument.boundaries] } } : {})
  })

/** `make(key)` once per key, on first use. */
const once = <K, A>(make: (key: K) => A) => {
  const made = new Map<K, A>()
  return (key: K): A => {
    let value = made.get(key)
    if (value === undefined) {
      value = make(key)
      made.set(key, value)
    }
    return value
  }
}

/** The shipped profile's span tracer for the sending fiber, one per provider. */
const spanTracerOf = (
  scope: { readonly name: string; readonly version: string },
  configured: OtelApi.TracerProvider | undefined
) => {
  const tracerOf = once((provider: OtelApi.TracerProvider) => scopedTracer.make(provider, scope.name, scope.version))
  return (context: Context.Context<never>): Tracer.Tracer =>
    tracerOf(
      configured ?? Context.getOrUndefined(context, EffectOtelTracerProvider) ?? OtelApi.trace.getTracerProvider()
    )
}

/**
 * Creates the profile's instruments on `meterProvider` and returns the
 * service that records into them (the documented profile unless
 * `options.profile` says otherwise).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  meterProvider: OtelApi.MeterProvider,
  options: Pick<Options, "profile" | "tracerProvider"> = {}
): SmtpMetricsService => {
  const profile = SmtpTelemetryProfile.of(options.profile ?? "documented")
  const meterOf = once((name: string) => meterProvider.getMeter(name, profile.meterVersion))
  // Each instrument once, however many observations record into it.
  const counter = once((instrument: SmtpInstruments.Counter) => counterOf(meterOf(instrument.meter), instrument))
  const histogram = once((instrument: SmtpInstruments.Histogram) => histogramOf(meterOf(instrument.meter), instrument))

  const socket = { count: counter(profile.socketConnect.count), duration: histogram(profile.socketConnect.duration) }
  const connection = histogram(profile.connection)
  const service = SmtpTelemetryProfile.service(profile, {
    socketConnect: (event) =>
      Effect.sync(() => {
        const attributes = profile.attributes({ _tag: "SocketConnect", ...event })
        socket.count.add(1, attributes)
        socket.duration.record(event.durationMs, attributes)
      }),
    operation: (operation, pair) => {
      const count = counter(pair.count)
      const duration = histogram(pair.duration)
      return (event) =>
        Effect.sync(() => {
          const attributes = profile.attributes({ _tag: "Operation", operation, ...event })
          count.add(1, attributes)
          duration.record(event.durationMs, attributes)
        })
    },
    connectionEnd: (event, seconds) =>
      Effect.sync(() => connection.record(seconds, profile.attributes({ _tag: "ConnectionEnd", ...event })))
  })
  return profile.spans.scope === undefined
    ? service
    : { ...service, spanTracer: spanTracerOf(profile.spans.scope, options.tracerProvider) }
}

/**
 * `SmtpMetrics` recording into OpenTelemetry meters, from `options.meterProvider`
 * or else the global provider, under `options.profile` (`"documented"` by
 * default, or `"shipped"`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<SmtpMetrics> =>
  Layer.sync(SmtpMetrics, () => make(options?.meterProvider ?? OtelApi.metrics.getMeterProvider(), options))
