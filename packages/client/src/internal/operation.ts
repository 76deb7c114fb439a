/**
 * The client's one telemetry path, modelled on MailKit's `NetworkOperation`:
 * an operation (connect, authenticate, send) runs inside a combinator that
 * takes its kind, its facts and its `Exit`, and records the span, the count,
 * the duration and the error attributes together when it ends; a
 * connection's end is recorded the same way. The profile of the metrics
 * backend decides what the span is called and carries, and what the
 * instruments record; the caller knows neither.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as References from "effect/References"
import { InvalidInputError, isSmtpError, type SmtpError } from "../SmtpError.js"
import { type ClientFacts, type Outcome, outcomeOf, type SmtpMetricsService } from "../SmtpMetrics.js"
import * as SmtpTelemetry from "../SmtpTelemetry.js"
import * as SmtpTelemetryProfile from "../SmtpTelemetryProfile.js"
import * as clientSpan from "./clientSpan.js"

/**
 * The server the operations talk to, as configured.
 *
 * @internal
 */
export interface Server {
  readonly host: string
  readonly port: number
  readonly scheme: "smtp" | "smtps"
}

/**
 * What a connect learned about its connection, for the operations on it and
 * for its end. Times are the clock's nanoseconds.
 *
 * @internal
 */
export interface ConnectionFacts {
  readonly peerAddress: string | undefined
  readonly transportAt: bigint | undefined
  readonly readyAt: bigint
}

/**
 * The client's operations, each around the effect that performs it.
 *
 * @internal
 */
export interface Operations {
  /**
   * The connect around `body`, which calls `onTransport` with the peer's IP
   * as soon as the transport (TCP, implicit TLS) is established.
   */
  readonly connect: <A, E, R>(
    body: (onTransport: (peerAddress: string) => void) => Effect.Effect<A, E, R>
  ) => Effect.Effect<readonly [A, ConnectionFacts], E, R>
  readonly authenticate: <A, E, R>(
    connection: ConnectionFacts,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, R>
  /**
   * One message's telemetry, begun on the fiber that sends it when its
   * transaction begins: `ended` takes the end times as soon as the
   * transaction ends, `record` records the span and the instruments later
   * (a pool gives the connection back in between). Input refused before any
   * byte was written is no send attempt and records no instrument.
   */
  readonly beginSend: (fiber: Fiber.Fiber<unknown, unknown>, peerAddress: string) => SendRecord
  /**
   * The end of a connection: clean unless the session broke (`broken`) or was
   * interrupted mid-exchange.
   */
  readonly connectionEnd: (
    connection: ConnectionFacts,
    broken: SmtpError | undefined,
    interrupted: boolean
  ) => Effect.Effect<void>
}

/**
 * The telemetry of one message on its way (see `Operations.beginSend`).
 *
 * @internal
 */
export interface SendRecord {
  readonly ended: () => void
  /** The send failed with `error` on a reused connection and goes once more on a fresh one. */
  readonly again: (error: unknown) => void
  readonly record: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
}

/** A failure that is not one of ours can only come from the caller's body stream. */
const bodyFailed = new InvalidInputError({ field: "content", reason: "the message body stream failed" })
const defect = new InvalidInputError({ field: "content", reason: "an unexpected defect" })
const notOurs = (cause: Cause.Cause<unknown>): SmtpError =>
  Option.isSome(Cause.findErrorOption(cause)) ? bodyFailed : defect

/**
 * A failure as a span records it: its `error.type` and nothing it carries.
 * Tracers export a failed span's error (OpenTelemetry: an exception event and
 * the status message, from the error's message), and our messages name
 * recipients and quote server replies, which can quote them too.
 */
class SpanFailure<E> extends Error {
  readonly #error: E
  constructor(errorType: string, error: E) {
    super(errorType)
    this.name = errorType
    this.#error = error
  }
  get error(): E {
    return this.#error
  }
}

const millis = (nanos: bigint): number => Number(nanos) / 1e6
const seconds = (nanos: bigint): number => Number(nanos) / 1e9

/** Input refused before any byte was written: no send attempt. */
const refused = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) &&
  Option.exists(Cause.findErrorOption(exit.cause), (e) => isSmtpError(e) && e._tag === "InvalidInputError")

/** The calling fiber's clock, and its span clock when its tracer is enabled. */
const clocksOf = (fiber: Fiber.Fiber<unknown, unknown>) => ({
  clock: fiber.getRef(Clock.Clock),
  spanTime: fiber.getRef(References.TracerEnabled) ? clientSpan.timed(fiber) : undefined
})

/** What every operation of one client records with: its metrics, its spans' settings, the server. */
interface Recorder {
  readonly metrics: SmtpMetricsService
  readonly target: Server
  readonly spans: SmtpTelemetryProfile.Spans
  readonly style: clientSpan.Style
  /** The server's span attributes. */
  readonly server: Readonly<Record<string, unknown>>
  readonly failures: {
    readonly connect: clientSpan.Failures<unknown, SpanFailure<unknown>>
    readonly authenticate: clientSpan.Failures<unknown, SpanFailure<unknown>>
    readonly send: clientSpan.Failures<unknown, SpanFailure<unknown>>
  }
  /** A span's attributes once the peer is known, made once per peer rather than per message. */
  readonly withPeer: Map<string, Readonly<Record<string, unknown>>>
}

/** @internal */
export const make = (metrics: SmtpMetricsService, target: Server): Operations => {
  const profile = metrics.profile ?? SmtpTelemetryProfile.documented
  const failures = {
    connect: failuresOf(profile, target, "connect"),
    authenticate: failuresOf(profile, target, "authenticate"),
    send: failuresOf(profile, target, "send")
  }
  const recorder: Recorder = {
    metrics,
    target,
    spans: profile.spans,
    style: { tracer: metrics.spanTracer, fiberAnnotations: profile.spans.fiberAnnotations },
    server: SmtpTelemetry.serverAttributes({
      scheme: target.scheme,
      serverAddress: target.host,
      serverPort: target.port
    }),
    failures,
    withPeer: new Map()
  }
  return {
    connect: (body) => connect(recorder, body),
    authenticate: (connection, effect) => authenticate(recorder, connection, effect),
    beginSend: (fiber, peerAddress) => beginSend(recorder, fiber, peerAddress),
    connectionEnd: (connection, broken, interrupted) => connectionEnd(recorder, connection, broken, interrupted)
  }
}

const factsOf = (target: Server, peerAddress: string | undefined): ClientFacts => ({
  serverAddress: target.host,
  serverPort: target.port,
  peerAddress,
  scheme: target.scheme
})

const failuresOf = (
  profile: SmtpTelemetryProfile.Profile,
  target: Server,
  operation: SmtpTelemetryProfile.Operation
): clientSpan.Failures<unknown, SpanFailure<unknown>> => ({
  errorType: (error) =>
    String(
      profile.attributes({
        _tag: "Operation",
        operation,
        ...factsOf(target, undefined),
        outcome: { _tag: "Failure", error: isSmtpError(error) ? error : bodyFailed }
      })["error.type"]
    ),
  recorded: (errorType, error) => new SpanFailure(errorType, error),
  attribute: profile.spans.errorType
})

const spanAttributes = (recorder: Recorder, peerAddress: string | undefined): Readonly<Record<string, unknown>> => {
  if (!recorder.spans.peerAddress || peerAddress === undefined) return recorder.server
  let attributes = recorder.withPeer.get(peerAddress)
  if (attributes === undefined) {
    attributes = { ...recorder.server, ...SmtpTelemetry.peerAttributes(peerAddress) }
    recorder.withPeer.set(peerAddress, attributes)
  }
  return attributes
}

const connect = <A, E, R>(
  recorder: Recorder,
  body: (onTransport: (peerAddress: string) => void) => Effect.Effect<A, E, R>
): Effect.Effect<readonly [A, ConnectionFacts], E, R> =>
  Effect.withFiber<readonly [A, ConnectionFacts], E, R>((fiber) => {
    const { metrics, spans, style, server, failures } = recorder
    const { clock, spanTime } = clocksOf(fiber)
    const started = clock.currentTimeNanosUnsafe()
    let peerAddress: string | undefined = undefined
    let transportAt: bigint | undefined = undefined
    let readyAt = started
    const onTransport = (address: string) => {
      peerAddress = address
      transportAt = clock.currentTimeNanosUnsafe()
    }
    // A parent span: what runs inside the connect is its child.
    const span = spanTime === undefined
      ? undefined
      : clientSpan.make(fiber, spans.names.connect, server, spanTime(), style)
    const run = span === undefined ? body(onTransport) : Effect.withParentSpan(body(onTransport), span)
    return Effect.map(
      Effect.onExit(run, (exit) =>
        Effect.suspend(() => {
          readyAt = clock.currentTimeNanosUnsafe()
          if (span !== undefined && spanTime !== undefined) {
            // Once the TCP connection exists, also when the connect then fails.
            if (spans.peerAddress && peerAddress !== undefined) {
              span.attribute("network.peer.address", peerAddress)
            }
            clientSpan.end(span, exit, spanTime(), failures.connect)
          }
          return metrics.clientConnect({
            ...factsOf(recorder.target, peerAddress),
            outcome: outcomeOf(exit, notOurs),
            durationMs: millis(readyAt - started),
            transportSeconds: transportAt === undefined ? undefined : seconds(readyAt - transportAt)
          })
        })),
      (opened) => [opened, { peerAddress, transportAt, readyAt }] as const
    )
  })

const authenticate = <A, E, R>(
  recorder: Recorder,
  connection: ConnectionFacts,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiber<A, E, R>((fiber) => {
    const { metrics, spans, style } = recorder
    const { clock, spanTime } = clocksOf(fiber)
    const started = clock.currentTimeNanosUnsafe()
    const span = spanTime === undefined
      ? undefined
      : clientSpan.make(
        fiber,
        spans.names.authenticate,
        spanAttributes(recorder, connection.peerAddress),
        spanTime(),
        style
      )
    const run = span === undefined ? effect : Effect.withParentSpan(effect, span)
    return Effect.onExit(run, (exit) =>
      Effect.suspend(() => {
        const ended = clock.currentTimeNanosUnsafe()
        if (span !== undefined && spanTime !== undefined) {
          clientSpan.end(span, exit, spanTime(), recorder.failures.authenticate)
        }
        return metrics.authenticate === undefined ? Effect.void : metrics.authenticate({
          ...factsOf(recorder.target, connection.peerAddress),
          outcome: outcomeOf(exit, notOurs),
          durationMs: millis(ended - started)
        })
      }))
  })

/**
 * A send's span is a leaf that no one sees while the send runs: its start
 * time is taken when the send starts, the span itself is made and ended when
 * it ends. What is exported is the same span; what is saved is making it on
 * the way to the wire (for a pooled send, between the reply to one message
 * and the next body). A tracer hook on span start runs at the end, and
 * nothing inside the send can find the span (a send makes no spans of its own).
 */
const beginSend = (recorder: Recorder, fiber: Fiber.Fiber<unknown, unknown>, peerAddress: string): SendRecord => {
  const { clock, spanTime } = clocksOf(fiber)
  const started = clock.currentTimeNanosUnsafe()
  const spanStarted = spanTime?.()
  let ended = started
  let spanEnded: bigint | undefined = undefined
  let firstAttempt: { readonly at: bigint; readonly error: unknown } | undefined = undefined
  return {
    ended: () => {
      ended = clock.currentTimeNanosUnsafe()
      spanEnded = spanTime?.()
    },
    again: (error) => {
      const at = spanTime?.()
      if (at !== undefined) firstAttempt = { at, error }
    },
    record: (exit) =>
      Effect.suspend(() => {
        if (spanStarted !== undefined && spanEnded !== undefined) {
          recordSendSpan(recorder, fiber, peerAddress, { started: spanStarted, ended: spanEnded, firstAttempt }, exit)
        }
        const { target } = recorder
        // One object per message: the facts written out rather than spread.
        return refused(exit) ? Effect.void : recorder.metrics.messageSend({
          serverAddress: target.host,
          serverPort: target.port,
          peerAddress,
          scheme: target.scheme,
          outcome: outcomeOf(exit, notOurs),
          durationMs: millis(ended - started)
        })
      })
  }
}

/** The span of a send that ended, with the first attempt's failure when it went once more. */
const recordSendSpan = (
  recorder: Recorder,
  fiber: Fiber.Fiber<unknown, unknown>,
  peerAddress: string,
  times: {
    readonly started: bigint
    readonly ended: bigint
    readonly firstAttempt: { readonly at: bigint; readonly error: unknown } | undefined
  },
  exit: Exit.Exit<unknown, unknown>
): void => {
  const { spans, style, failures } = recorder
  const span = clientSpan.make(fiber, spans.names.send, spanAttributes(recorder, peerAddress), times.started, style)
  // The first attempt's failure, by its type only (its message may quote recipients).
  if (times.firstAttempt !== undefined) {
    span.event("smtp.send.retry", times.firstAttempt.at, {
      "error.type": failures.send.errorType(times.firstAttempt.error),
      "smtp.retry.reason": "the reused connection failed before the message was sent"
    })
  }
  clientSpan.end(span, exit, times.ended, failures.send)
}

const connectionEnd = (
  recorder: Recorder,
  connection: ConnectionFacts,
  broken: SmtpError | undefined,
  interrupted: boolean
): Effect.Effect<void> =>
  Effect.clockWith((clock) => {
    const now = clock.currentTimeNanosUnsafe()
    const outcome: Outcome = broken !== undefined
      ? { _tag: "Failure", error: broken }
      : interrupted
      ? { _tag: "Interrupted" }
      : { _tag: "Success" }
    return recorder.metrics.connectionEnd({
      ...factsOf(recorder.target, connection.peerAddress),
      outcome,
      durationSeconds: seconds(now - connection.readyAt),
      transportSeconds: connection.transportAt === undefined ? undefined : seconds(now - connection.transportAt)
    })
  })
