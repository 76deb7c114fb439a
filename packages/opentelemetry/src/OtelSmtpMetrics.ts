/**
 * The `SmtpMetrics` service on the OpenTelemetry Meter API: the seven
 * instruments of MailKit's documented telemetry on the meters
 * `mailkit.net.socket` and `mailkit.net.smtp`, with their units, descriptions,
 * explicit bucket advice, and int values for `server.port`, `smtp.status_code`
 * and `socket.error` (which Effect's own `Metric` can only carry as strings).
 *
 * @since 0.1.0
 */
import * as SmtpInstruments from "@effect-smtp/client/SmtpInstruments"
import { SmtpMetrics, type SmtpMetricsService } from "@effect-smtp/client/SmtpMetrics"
import * as SmtpTelemetry from "@effect-smtp/client/SmtpTelemetry"
import * as OtelApi from "@opentelemetry/api"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

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
}

const counterOf = (meter: OtelApi.Meter, instrument: SmtpInstruments.Counter): OtelApi.Counter =>
  meter.createCounter(instrument.name, {
    description: instrument.description,
    unit: instrument.unit,
    // Counts of attempts and messages are whole numbers.
    valueType: OtelApi.ValueType.INT
  })

const histogramOf = (meter: OtelApi.Meter, instrument: SmtpInstruments.Histogram): OtelApi.Histogram =>
  meter.createHistogram(instrument.name, {
    description: instrument.description,
    unit: instrument.unit,
    valueType: OtelApi.ValueType.DOUBLE,
    // Advice, not a View: an application's own View still wins.
    advice: { explicitBucketBoundaries: [...instrument.boundaries] }
  })

/**
 * Creates the instruments on `meterProvider` and returns the service that
 * records into them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (meterProvider: OtelApi.MeterProvider): SmtpMetricsService => {
  const socketMeter = meterProvider.getMeter(SmtpInstruments.meters.socket)
  const smtpMeter = meterProvider.getMeter(SmtpInstruments.meters.smtp)
  const meterOf = (instrument: SmtpInstruments.Instrument) =>
    instrument.meter === SmtpInstruments.meters.socket ? socketMeter : smtpMeter

  const socketConnectCount = counterOf(
    meterOf(SmtpInstruments.socketConnectCount),
    SmtpInstruments.socketConnectCount
  )
  const socketConnectDuration = histogramOf(
    meterOf(SmtpInstruments.socketConnectDuration),
    SmtpInstruments.socketConnectDuration
  )
  const clientConnectCount = counterOf(
    meterOf(SmtpInstruments.clientConnectCount),
    SmtpInstruments.clientConnectCount
  )
  const clientConnectDuration = histogramOf(
    meterOf(SmtpInstruments.clientConnectDuration),
    SmtpInstruments.clientConnectDuration
  )
  const clientConnectionDuration = histogramOf(
    meterOf(SmtpInstruments.clientConnectionDuration),
    SmtpInstruments.clientConnectionDuration
  )
  const clientSendCount = counterOf(meterOf(SmtpInstruments.clientSendCount), SmtpInstruments.clientSendCount)
  const clientSendDuration = histogramOf(
    meterOf(SmtpInstruments.clientSendDuration),
    SmtpInstruments.clientSendDuration
  )

  return {
    socketConnect: (event) =>
      Effect.sync(() => {
        const attributes = SmtpTelemetry.socketConnectAttributes(event)
        socketConnectCount.add(1, attributes)
        socketConnectDuration.record(event.durationMs, attributes)
      }),
    clientConnect: (event) =>
      Effect.sync(() => {
        const attributes = SmtpTelemetry.clientAttributes(event)
        clientConnectCount.add(1, attributes)
        clientConnectDuration.record(event.durationMs, attributes)
      }),
    connectionEnd: (event) =>
      Effect.sync(() => {
        clientConnectionDuration.record(event.durationSeconds, SmtpTelemetry.clientAttributes(event))
      }),
    messageSend: (event) =>
      Effect.sync(() => {
        const attributes = SmtpTelemetry.clientAttributes(event)
        clientSendCount.add(1, attributes)
        clientSendDuration.record(event.durationMs, attributes)
      })
  }
}

/**
 * `SmtpMetrics` recording into OpenTelemetry meters, from `options.meterProvider`
 * or else the global provider.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<SmtpMetrics> =>
  Layer.sync(SmtpMetrics, () => make(options?.meterProvider ?? OtelApi.metrics.getMeterProvider()))
