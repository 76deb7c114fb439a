/**
 * The instruments of both telemetry profiles, as data: meter, name, kind,
 * unit, description and histogram buckets. The seven of MailKit's documented
 * telemetry (the "documented" profile) and the five MailKit 4.7 to 4.17
 * actually emit (the "shipped" profile). Both backends (Effect `Metric` in
 * `SmtpMetrics.layer`, the OpenTelemetry Meter API in
 * `@effect-smtp/opentelemetry`) read this module, so a name or a description
 * exists exactly once.
 *
 * @since 0.1.0
 */

/**
 * Meter (instrumentation scope) names, per the telemetry notes: the socket
 * instruments and the client instruments live on separate meters, as in MailKit.
 *
 * @since 0.1.0
 * @category meters
 */
export const meters = {
  socket: "mailkit.net.socket",
  smtp: "mailkit.net.smtp"
} as const

/**
 * @since 0.1.0
 * @category models
 */
export type MeterName = typeof meters[keyof typeof meters]

/**
 * The units the spec uses. Annotations in braces (`{attempt}`) are UCUM
 * "dimensionless with a label", which OpenTelemetry recommends for counts.
 *
 * @since 0.1.0
 * @category models
 */
export type Unit = "{attempt}" | "{message}" | "{operation}" | "ms" | "s"

/**
 * A monotonic counter (OpenTelemetry `Counter`, exported as a monotonic SUM).
 *
 * @since 0.1.0
 * @category models
 */
export interface Counter<Name extends string = string> {
  readonly kind: "counter"
  readonly meter: MeterName
  readonly name: Name
  readonly unit: Unit
  readonly description: string
}

/**
 * A histogram with explicit bucket boundaries (upper bounds, ascending; the
 * implicit last bucket is `+Inf`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Histogram<Name extends string = string> {
  readonly kind: "histogram"
  readonly meter: MeterName
  readonly name: Name
  readonly unit: Unit
  readonly description: string
  readonly boundaries: ReadonlyArray<number>
  /**
   * Whether `boundaries` are given to the SDK as bucket advice. When false
   * (the shipped profile, as MailKit gives none) they are the SDK's default
   * buckets, which an exporter applies anyway; a backend that must name
   * buckets itself (Effect's `Metric`) uses them.
   *
   * @since 0.2.0
   */
  readonly advice: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export type Instrument = Counter | Histogram

/**
 * Bucket boundaries for `ms` histograms: 1 ms to 120 s in a 1-2.5-5 series.
 * MailKit ships no advice, and the SDK's default buckets (0..10000) would put
 * every slow SMTP connect or DATA phase into the overflow bucket.
 *
 * @since 0.1.0
 * @category boundaries
 */
export const millisecondBoundaries: ReadonlyArray<number> = [
  1,
  2.5,
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1_000,
  2_500,
  5_000,
  10_000,
  30_000,
  60_000,
  120_000
]

/**
 * Bucket boundaries for the `s` histogram (connection lifetime): 5 ms to 1 h.
 * Pooled sessions live for minutes; one-shot sessions for well under a second.
 *
 * @since 0.1.0
 * @category boundaries
 */
export const secondBoundaries: ReadonlyArray<number> = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  120,
  300,
  600,
  1_800,
  3_600
]

/**
 * `mailkit.net.socket.connect.count`: one per TCP connect attempt to one
 * resolved IP.
 *
 * @since 0.1.0
 * @category instruments
 */
export const socketConnectCount: Counter<"mailkit.net.socket.connect.count"> = {
  kind: "counter",
  meter: meters.socket,
  name: "mailkit.net.socket.connect.count",
  unit: "{attempt}",
  description: "The number of times a socket attempted to connect to a remote host."
}

/**
 * `mailkit.net.socket.connect.duration`. The spec's table cell says
 * `mailkit.net.socket.connect`, a typo: its heading and MailKit's code use
 * `.duration` (see the telemetry notes).
 *
 * @since 0.1.0
 * @category instruments
 */
export const socketConnectDuration: Histogram<"mailkit.net.socket.connect.duration"> = {
  kind: "histogram",
  meter: meters.socket,
  name: "mailkit.net.socket.connect.duration",
  unit: "ms",
  description: "The number of milliseconds taken for a socket to connect to a remote host.",
  boundaries: millisecondBoundaries,
  advice: true
}

/**
 * `mailkit.net.smtp.client.connect.count`: one per client connect (DNS to the
 * second EHLO, not AUTH).
 *
 * @since 0.1.0
 * @category instruments
 */
export const clientConnectCount: Counter<"mailkit.net.smtp.client.connect.count"> = {
  kind: "counter",
  meter: meters.smtp,
  name: "mailkit.net.smtp.client.connect.count",
  unit: "{attempt}",
  description: "The number of times a client has attempted to connect to an SMTP server."
}

/**
 * `mailkit.net.smtp.client.connect.duration`.
 *
 * @since 0.1.0
 * @category instruments
 */
export const clientConnectDuration: Histogram<"mailkit.net.smtp.client.connect.duration"> = {
  kind: "histogram",
  meter: meters.smtp,
  name: "mailkit.net.smtp.client.connect.duration",
  unit: "ms",
  description: "The amount of time it takes for the client to connect to an SMTP server.",
  boundaries: millisecondBoundaries,
  advice: true
}

/**
 * `mailkit.net.smtp.client.connection.duration`: one per established session,
 * from session ready to close.
 *
 * @since 0.1.0
 * @category instruments
 */
export const clientConnectionDuration: Histogram<"mailkit.net.smtp.client.connection.duration"> = {
  kind: "histogram",
  meter: meters.smtp,
  name: "mailkit.net.smtp.client.connection.duration",
  unit: "s",
  description: "The duration of successfully established connections to an SMTP server.",
  boundaries: secondBoundaries,
  advice: true
}

/**
 * `mailkit.net.smtp.client.send.count`: one per message (not per recipient).
 *
 * @since 0.1.0
 * @category instruments
 */
export const clientSendCount: Counter<"mailkit.net.smtp.client.send.count"> = {
  kind: "counter",
  meter: meters.smtp,
  name: "mailkit.net.smtp.client.send.count",
  unit: "{message}",
  description: "The number of messages sent to an SMTP server."
}

/**
 * `mailkit.net.smtp.client.send.duration`: MAIL FROM written to the final
 * DATA / BDAT reply.
 *
 * @since 0.1.0
 * @category instruments
 */
export const clientSendDuration: Histogram<"mailkit.net.smtp.client.send.duration"> = {
  kind: "histogram",
  meter: meters.smtp,
  name: "mailkit.net.smtp.client.send.duration",
  unit: "ms",
  description: "The amount of time it takes to send a message to an SMTP server.",
  boundaries: millisecondBoundaries,
  advice: true
}

/**
 * All seven of the documented profile, in the spec's order.
 *
 * @since 0.1.0
 * @category instruments
 */
export const all: ReadonlyArray<Instrument> = [
  socketConnectCount,
  socketConnectDuration,
  clientConnectCount,
  clientConnectDuration,
  clientConnectionDuration,
  clientSendCount,
  clientSendDuration
]

/**
 * The OpenTelemetry SDK's default explicit buckets, the same in .NET and
 * JavaScript. MailKit gives no bucket advice, so these are the buckets a
 * MailKit application exports; the shipped profile uses them and gives no
 * advice either.
 *
 * @since 0.2.0
 * @category boundaries
 */
export const sdkDefaultBoundaries: ReadonlyArray<number> = [
  0,
  5,
  10,
  25,
  50,
  75,
  100,
  250,
  500,
  750,
  1_000,
  2_500,
  5_000,
  7_500,
  10_000
]

/**
 * `mailkit.net.socket.connect.duration` as MailKit ships it: no bucket advice.
 *
 * @since 0.2.0
 * @category instruments
 */
export const shippedSocketConnectDuration: Histogram<"mailkit.net.socket.connect.duration"> = {
  ...socketConnectDuration,
  boundaries: sdkDefaultBoundaries,
  advice: false
}

/**
 * `mailkit.net.smtp.client.connection.duration` as MailKit ships it: no
 * bucket advice.
 *
 * @since 0.2.0
 * @category instruments
 */
export const shippedConnectionDuration: Histogram<"mailkit.net.smtp.client.connection.duration"> = {
  ...clientConnectionDuration,
  boundaries: sdkDefaultBoundaries,
  advice: false
}

/**
 * `mailkit.net.smtp.client.operation.count`: one per operation (`connect`,
 * `authenticate`, `send`), told apart by `network.operation`.
 *
 * @since 0.2.0
 * @category instruments
 */
export const operationCount: Counter<"mailkit.net.smtp.client.operation.count"> = {
  kind: "counter",
  meter: meters.smtp,
  name: "mailkit.net.smtp.client.operation.count",
  unit: "{operation}",
  description: "The number of times a client performed an operation on an SMTP server."
}

/**
 * `mailkit.net.smtp.client.operation.duration`.
 *
 * @since 0.2.0
 * @category instruments
 */
export const operationDuration: Histogram<"mailkit.net.smtp.client.operation.duration"> = {
  kind: "histogram",
  meter: meters.smtp,
  name: "mailkit.net.smtp.client.operation.duration",
  unit: "ms",
  description: "The amount of time it takes for the SMTP server to perform an operation.",
  boundaries: sdkDefaultBoundaries,
  advice: false
}

/**
 * The five of the shipped profile, in the order of `mailkit-shipped.md`.
 *
 * @since 0.2.0
 * @category instruments
 */
export const shipped: ReadonlyArray<Instrument> = [
  socketConnectCount,
  shippedSocketConnectDuration,
  shippedConnectionDuration,
  operationCount,
  operationDuration
]
