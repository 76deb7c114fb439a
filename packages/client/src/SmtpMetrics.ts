/**
 * Telemetry events of effect-smtp: the Socket and the client report what
 * happened (a connect attempt, an operation, the end of a connection) with
 * its facts and outcome; a backend turns the events into instruments under
 * its telemetry profile (`SmtpTelemetryProfile`).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import * as effectMetrics from "./internal/effectMetrics.js"
import { isSmtpError, type SmtpError } from "./SmtpError.js"
import type * as SmtpTelemetryProfile from "./SmtpTelemetryProfile.js"

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

const success: Outcome = { _tag: "Success" }
const interrupted: Outcome = { _tag: "Interrupted" }

/**
 * The outcome of an `Exit`, the one way every reporter turns an exit into
 * telemetry: success; the first failure when it is one of ours; interruption
 * when nothing but interruption ended it; otherwise (a failure that is not an
 * `SmtpError`, or a defect) the failure `orElse` names, so that the attempt
 * is still recorded once, as the failure it is.
 *
 * @since 0.2.0
 * @category outcomes
 */
export const outcomeOf = (
  exit: Exit.Exit<unknown, unknown>,
  orElse: (cause: Cause.Cause<unknown>) => SmtpError
): Outcome => {
  if (Exit.isSuccess(exit)) return success
  const failure = Cause.findErrorOption(exit.cause)
  if (Option.isSome(failure) && isSmtpError(failure.value)) return { _tag: "Failure", error: failure.value }
  if (Option.isNone(failure) && Cause.hasInterruptsOnly(exit.cause)) return interrupted
  return { _tag: "Failure", error: orElse(exit.cause) }
}

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
  /**
   * Seconds from the transport being established (TCP connected, implicit
   * TLS done) to the end of the connect; absent when none was. A failed
   * connect with a transport ended a connection in the shipped profile.
   *
   * @since 0.2.0
   */
  readonly transportSeconds?: number | undefined
}

/**
 * AUTH with the configured credentials on a connected session.
 *
 * @since 0.2.0
 * @category models
 */
export interface AuthenticateEvent extends ClientFacts {
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
  /** Seconds since the session was ready (after the last EHLO). */
  readonly durationSeconds: number
  /**
   * Seconds since the transport was established (TCP connected, implicit TLS
   * done): the connection's lifetime as MailKit's code measures it.
   *
   * @since 0.2.0
   */
  readonly transportSeconds?: number | undefined
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
  /**
   * AUTH ended. Optional so that backends written before it keep working;
   * the documented profile records no instrument for it.
   *
   * @since 0.2.0
   */
  readonly authenticate?: ((event: AuthenticateEvent) => Effect.Effect<void>) | undefined
  readonly connectionEnd: (event: ConnectionEndEvent) => Effect.Effect<void>
  readonly messageSend: (event: MessageSendEvent) => Effect.Effect<void>
  /**
   * The profile whose spans the client makes (names, attributes); the
   * documented profile when absent.
   *
   * @since 0.2.0
   */
  readonly profile?: SmtpTelemetryProfile.Profile | undefined
  /**
   * The tracer the client's operation spans are made with, given the calling
   * fiber's context; Effect's current tracer when absent. A backend supplies
   * one to put the spans under an instrumentation scope of its own (the
   * OpenTelemetry backend's shipped profile: `MailKit.Net.SmtpClient`).
   *
   * @since 0.2.0
   */
  readonly spanTracer?: ((context: Context.Context<never>) => Tracer.Tracer) | undefined
}

/**
 * @since 0.1.0
 * @category tags
 */
export class SmtpMetrics extends Context.Service<SmtpMetrics, SmtpMetricsService>()("@effect-smtp/client/SmtpMetrics") {
  /**
   * Records the documented profile's seven instruments as Effect `Metric`s.
   * See the module-level `layer` for what travels and what does not.
   *
   * @since 0.1.0
   * @category layers
   */
  static get layer(): Layer.Layer<SmtpMetrics> {
    return layer
  }

  /**
   * The Effect `Metric` backend with options: `{ profile: "shipped" }` for
   * what MailKit ships, `{ unitTag: true }` for units on export.
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
  authenticate: () => Effect.void,
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
   * Which instruments to record: `"documented"` (the default: MailKit's
   * telemetry documentation) or `"shipped"` (what MailKit 4.7 to 4.17 emit).
   *
   * @since 0.2.0
   */
  readonly profile?: SmtpTelemetryProfile.Name | undefined
  /**
   * Adds a constant `unit` tag (`ms`, `s`, `{attempt}`, `{message}`,
   * `{operation}`) to every metric. Effect's `Metric` has no unit field;
   * `@effect/opentelemetry` reads the instrument unit from a `unit` tag, so
   * with this on the exported unit is right, at the price of one extra
   * attribute key the spec does not list. Off by default: the attribute keys
   * are then exactly the profile's.
   *
   * Pick one setting per process: `@effect/opentelemetry` takes a metric's
   * unit from the first series it meets, so a process recording both with and
   * without the tag exports whichever comes first.
   */
  readonly unitTag?: boolean | undefined
}

/**
 * The Effect `Metric` backend with options (`profile`, `unitTag`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: EffectMetricOptions): Layer.Layer<SmtpMetrics> =>
  Layer.sync(SmtpMetrics, () => effectMetrics.make(options))

/**
 * The Effect `Metric` backend with the documented profile: the seven
 * instruments as Effect counters (incremental) and histograms (explicit
 * boundaries from `SmtpInstruments`), with the documented descriptions and
 * attribute keys. Export them with `@effect/opentelemetry` (`Metrics.layer` /
 * `NodeSdk.layer`) or read them with `Metric.snapshot`.
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
 * - Spans are made on Effect's current tracer: with the shipped profile they
 *   are named and attributed as MailKit's, under that tracer's scope.
 * - Effect's metric registry is process-wide: two layers record into the same
 *   metrics.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<SmtpMetrics> = layerWith({})
