/**
 * Telemetry profiles: which instruments effect-smtp records, and the one pure
 * mapping from what happened to their attributes. A profile is chosen when a
 * metrics layer is built (`SmtpMetrics.layerWith({ profile })`,
 * `OtelSmtpMetrics.layer({ profile })`); the protocol and the client know
 * nothing of it: they report observations, a backend maps them through its
 * profile.
 *
 * - `"documented"` (the default): the seven instruments of MailKit's
 *   telemetry documentation as drafted for 4.4 (`mailkit-telemetry.md`), and
 *   the spans `smtp.connect`, `smtp.authenticate`, `smtp.send`.
 * - `"shipped"`: what MailKit 4.7 to 4.17 actually emit
 *   (`mailkit-shipped.md`): five instruments on meters of version `0.1`,
 *   `operation.count` / `operation.duration` per `network.operation`, MailKit's
 *   own `error.type` names, and spans `Connect`, `Authenticate`, `Send` under
 *   the tracer `MailKit.Net.SmtpClient`.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as SmtpInstruments from "./SmtpInstruments.js"
import type { ClientFacts, Outcome, SmtpMetricsService, SocketConnectEvent } from "./SmtpMetrics.js"
import * as SmtpTelemetry from "./SmtpTelemetry.js"

/**
 * @since 0.2.0
 * @category models
 */
export type Name = "documented" | "shipped"

/**
 * An operation of the client: `connect` (DNS, TCP, TLS, greeting, EHLO,
 * STARTTLS, the second EHLO), `authenticate` (AUTH) or `send` (one message).
 *
 * @since 0.2.0
 * @category models
 */
export type Operation = SmtpTelemetry.Operation

/**
 * What happened, as a profile maps it: a socket connect attempt, a client
 * operation, or the end of a connection, each with its facts and outcome.
 *
 * @since 0.2.0
 * @category models
 */
export type Observation =
  | (
    & { readonly _tag: "SocketConnect" }
    & Pick<SocketConnectEvent, "serverAddress" | "serverPort" | "peerAddress" | "outcome">
  )
  | (ClientFacts & { readonly _tag: "Operation"; readonly operation: Operation; readonly outcome: Outcome })
  | (ClientFacts & { readonly _tag: "ConnectionEnd"; readonly outcome: Outcome })

/**
 * A count and a duration recorded together for one observation.
 *
 * @since 0.2.0
 * @category models
 */
export interface Pair {
  readonly count: SmtpInstruments.Counter
  readonly duration: SmtpInstruments.Histogram
}

/**
 * How the client's operation spans look under a profile.
 *
 * @since 0.2.0
 * @category models
 */
export interface Spans {
  /** The span of each operation. */
  readonly names: { readonly [K in Operation]: string }
  /** Whether a span carries `network.peer.address` once the peer is known. */
  readonly peerAddress: boolean
  /** Whether a failed span carries the failure's `error.type`. */
  readonly errorType: boolean
  /**
   * Whether the fiber's span annotations and links are copied onto the span,
   * as `Effect.useSpan` does. MailKit's spans carry nothing but their three
   * attributes.
   */
  readonly fiberAnnotations: boolean
  /**
   * The tracer (instrumentation scope) the spans belong to, for a backend that
   * makes them on a tracer of its own; `undefined`: Effect's current tracer.
   */
  readonly scope: { readonly name: string; readonly version: string } | undefined
}

/**
 * A profile: the instruments (data), where each observation is recorded, and
 * the pure mapping from an observation to attributes.
 *
 * @since 0.2.0
 * @category models
 */
export interface Profile {
  readonly name: Name
  /** The version both meters are created with. */
  readonly meterVersion: string | undefined
  /** Every instrument of the profile. */
  readonly instruments: ReadonlyArray<SmtpInstruments.Instrument>
  /** One TCP connect attempt. */
  readonly socketConnect: Pair
  /** Each client operation, or `undefined` where the profile records none. */
  readonly operations: { readonly [K in Operation]: Pair | undefined }
  /** The end of a connection, in seconds. */
  readonly connection: SmtpInstruments.Histogram
  /**
   * When a connection's clock starts. `"session"`: once the session is ready
   * (after the last EHLO), and only sessions are recorded. `"transport"`: once
   * TCP (and implicit TLS) is established, as MailKit's code starts it, so a
   * connect that fails after that also ends a connection, with its error.
   */
  readonly connectionClock: "session" | "transport"
  /** The one mapping: an observation's attributes, under the profile's presence rules. */
  readonly attributes: (observation: Observation) => SmtpTelemetry.Attributes
  readonly spans: Spans
}

/**
 * MailKit's telemetry documentation (4.4 draft): seven instruments, with
 * `socket.connect.result`, `smtp.status_code` and `socket.error`, explicit
 * bucket advice, and the spans `smtp.connect`, `smtp.authenticate`,
 * `smtp.send`. AUTH records no instrument.
 *
 * @since 0.2.0
 * @category profiles
 */
export const documented: Profile = {
  name: "documented",
  meterVersion: undefined,
  instruments: SmtpInstruments.all,
  socketConnect: { count: SmtpInstruments.socketConnectCount, duration: SmtpInstruments.socketConnectDuration },
  operations: {
    connect: { count: SmtpInstruments.clientConnectCount, duration: SmtpInstruments.clientConnectDuration },
    authenticate: undefined,
    send: { count: SmtpInstruments.clientSendCount, duration: SmtpInstruments.clientSendDuration }
  },
  connection: SmtpInstruments.clientConnectionDuration,
  connectionClock: "session",
  attributes: (observation) => {
    switch (observation._tag) {
      case "SocketConnect":
        return SmtpTelemetry.socketConnectAttributes(observation)
      case "Operation":
      case "ConnectionEnd":
        return SmtpTelemetry.clientAttributes(observation)
    }
  },
  spans: {
    names: { connect: "smtp.connect", authenticate: "smtp.authenticate", send: "smtp.send" },
    peerAddress: true,
    errorType: true,
    fiberAnnotations: true,
    scope: undefined
  }
}

/**
 * What MailKit 4.7 to 4.17 emit: five instruments on meters of version
 * `0.1`, no bucket advice, `operation.count` / `.duration` per
 * `network.operation`, MailKit's `error.type` names, and the spans `Connect`,
 * `Authenticate`, `Send` of the tracer `MailKit.Net.SmtpClient` (version
 * `0.1`) with `url.scheme`, `server.address`, `server.port` and a status.
 *
 * @since 0.2.0
 * @category profiles
 */
export const shipped: Profile = {
  name: "shipped",
  meterVersion: "0.1",
  instruments: SmtpInstruments.shipped,
  socketConnect: {
    count: SmtpInstruments.socketConnectCount,
    duration: SmtpInstruments.shippedSocketConnectDuration
  },
  operations: {
    connect: { count: SmtpInstruments.operationCount, duration: SmtpInstruments.operationDuration },
    authenticate: { count: SmtpInstruments.operationCount, duration: SmtpInstruments.operationDuration },
    send: { count: SmtpInstruments.operationCount, duration: SmtpInstruments.operationDuration }
  },
  connection: SmtpInstruments.shippedConnectionDuration,
  connectionClock: "transport",
  attributes: (observation) => {
    switch (observation._tag) {
      case "SocketConnect":
        return SmtpTelemetry.shippedSocketConnectAttributes(observation)
      case "Operation":
        return SmtpTelemetry.shippedOperationAttributes(observation.operation, observation)
      case "ConnectionEnd":
        return SmtpTelemetry.shippedConnectionAttributes(observation)
    }
  },
  spans: {
    names: { connect: "Connect", authenticate: "Authenticate", send: "Send" },
    peerAddress: false,
    errorType: false,
    fiberAnnotations: false,
    scope: { name: "MailKit.Net.SmtpClient", version: "0.1" }
  }
}

/**
 * The profile of a name.
 *
 * @since 0.2.0
 * @category profiles
 */
export const of = (name: Name): Profile => name === "shipped" ? shipped : documented

/**
 * How a backend records: a socket connect attempt, an operation into its
 * pair (`undefined` where the profile records none), and a connection's end
 * in seconds. The backend computes the attributes with `profile.attributes`.
 *
 * @since 0.2.0
 * @category backends
 */
export interface Recorders {
  readonly socketConnect: (event: SocketConnectEvent) => Effect.Effect<void>
  readonly operation: (
    operation: Operation,
    pair: Pair
  ) => (event: ClientFacts & { readonly outcome: Outcome; readonly durationMs: number }) => Effect.Effect<void>
  readonly connectionEnd: (event: ClientFacts & { readonly outcome: Outcome }, seconds: number) => Effect.Effect<void>
}

/**
 * The `SmtpMetrics` service of a backend under `profile`: which event is
 * recorded where, and on which clock a connection's lifetime is measured.
 * Both backends (Effect `Metric`, OpenTelemetry) are this with their own
 * recorders.
 *
 * @since 0.2.0
 * @category backends
 */
export const service = (profile: Profile, recorders: Recorders): SmtpMetricsService => {
  const operation = (name: Operation) => {
    const pair = profile.operations[name]
    return pair === undefined ? () => Effect.void : recorders.operation(name, pair)
  }
  const connect = operation("connect")
  const fromTransport = profile.connectionClock === "transport"
  return {
    socketConnect: recorders.socketConnect,
    clientConnect: (event) =>
      // A connect that fails once the transport exists ends a connection
      // too, when the connection's clock starts at the transport.
      fromTransport && event.outcome._tag !== "Success" && event.transportSeconds !== undefined
        ? Effect.andThen(connect(event), recorders.connectionEnd(event, event.transportSeconds))
        : connect(event),
    authenticate: operation("authenticate"),
    messageSend: operation("send"),
    connectionEnd: (event) =>
      recorders.connectionEnd(
        event,
        fromTransport ? event.transportSeconds ?? event.durationSeconds : event.durationSeconds
      ),
    profile
  }
}
