import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as SmtpClient from "../SmtpClient.js"
import { InvalidInputError, isSmtpError, type SmtpError } from "../SmtpError.js"
import { type ClientFacts, type Outcome, SmtpMetrics } from "../SmtpMetrics.js"
import * as SmtpProtocol from "../SmtpProtocol.js"
import * as clientSpan from "./clientSpan.js"
import * as commands from "./commands.js"
import * as outgoing from "./outgoing.js"
import * as pooling from "./pool.js"
import * as sasl from "./sasl.js"
import * as sendPolicy from "./sendPolicy.js"
import * as tokenCache from "./tokenCache.js"

/**
 * The client: one send reads top to bottom in `send`. Check the input (no
 * byte is sent for bad input); scan the body once; under the send policy
 * (rate limit, retries, deadline), borrow a session (from the pool, or a new
 * one) and run the transaction on it; give the session back; record the
 * telemetry; build the result.
 */

/** @internal */
export const resolve = (options: SmtpClient.Options): SmtpClient.ResolvedOptions => {
  const port = options.port ?? (options.security === "tls" ? 465 : 587)
  return {
    host: options.host,
    port,
    protocol: options.protocol ?? "smtp",
    security: options.security ?? (port === 465 ? "tls" : "starttls-if-available"),
    auth: options.auth,
    tls: options.tls,
    timeouts: SmtpProtocol.resolveTimeouts(options.timeout, options.timeouts),
    ehloName: options.ehloName,
    protocolLog: options.protocolLog
  }
}

/** How long a client remembers that its server refuses commands pipelined behind the end of DATA. */
const groupingLessonMillis = 60 * 60 * 1000

const millisOf = (clock: Clock.Clock): number => Number(clock.unsafeCurrentTimeNanos()) / 1e6
const nowMillis = Effect.clockWith((clock) => Effect.succeed(millisOf(clock)))

/**
 * How an effect ended, for telemetry. A failure that is not one of ours can
 * only come from the caller's body stream: it is reported as bad input.
 *
 * @internal
 */
export const outcomeOf = (exit: Exit.Exit<unknown, unknown>): Outcome => {
  if (Exit.isSuccess(exit)) return { _tag: "Success" }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    return {
      _tag: "Failure",
      error: isSmtpError(error)
        ? error
        : new InvalidInputError({ field: "content", reason: "the message body stream failed" })
    }
  }
  if (Cause.isInterruptedOnly(exit.cause)) return { _tag: "Interrupted" }
  return { _tag: "Failure", error: new InvalidInputError({ field: "content", reason: "an unexpected defect" }) }
}

/** The `error.type` of a failure, as `outcomeOf` reports it to the metrics. */
const errorTypeOf = (error: unknown): string => isSmtpError(error) ? error._tag : "InvalidInputError"

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

/** What a failed span records: the failure's `error.type`, never its text. */
const spanFailures: clientSpan.Failures<unknown, SpanFailure<unknown>> = {
  errorType: errorTypeOf,
  recorded: (errorType, error) => new SpanFailure(errorType, error)
}

/** A span around `effect` that is the parent of what runs inside (connect, authenticate); none with the tracer off. */
const traced = (name: string, attributes: Record<string, unknown>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(FiberRef.get(FiberRef.currentTracerEnabled), (enabled) =>
    enabled
      ? clientSpan.use(name, attributes, spanFailures, (span) => Effect.withParentSpan(effect, span))
      : effect)

/** A composed message's envelope comes from the message itself. */
const toMail = <E>(sendable: SmtpClient.Sendable<E>): SmtpClient.Mail<E> =>
  "envelope" in sendable
    ? {
      from: sendable.envelope.from,
      to: sendable.envelope.to,
      content: sendable.content,
      size: sendable.size,
      dsn: sendable.dsn,
      messageId: sendable.messageId
    }
    : sendable

/** When and on which peer a transaction began: what its telemetry needs besides its exit. */
interface Began {
  readonly nanos: bigint
  readonly remoteAddress: string
}

/** @internal */
export const make = (
  options: SmtpClient.Options
): Effect.Effect<SmtpClient.SmtpClientService, never, SmtpProtocol.SmtpProtocol | SmtpMetrics | Scope.Scope> =>
  Effect.gen(function*() {
    const protocol = yield* SmtpProtocol.SmtpProtocol
    const metrics = yield* SmtpMetrics
    const clock = yield* Effect.clock
    const resolved = resolve(options)
    const credentialsInvalid = resolved.auth === undefined ? undefined : sasl.checkCredentials(resolved.auth)
    const tokens = resolved.auth !== undefined && "tokenProvider" in resolved.auth
      ? yield* tokenCache.make(resolved.auth)
      : undefined
    const scheme = resolved.security === "tls" ? "smtps" as const : "smtp" as const
    const spanAttributes = {
      "url.scheme": scheme,
      "server.address": resolved.host,
      "server.port": resolved.port
    }

    /**
     * AUTH with the configured credentials. A provider's token the server
     * refuses (535) is refreshed once and offered once more: it may have been
     * revoked or expired early.
     */
    const authenticate = (opened: SmtpProtocol.Session, auth: SmtpClient.Auth): Effect.Effect<void, SmtpError> => {
      if (!("tokenProvider" in auth)) return opened.authenticate(auth)
      if (tokens === undefined) return Effect.dieMessage("a token provider without its cache")
      const offer = (accessToken: Redacted.Redacted<string>) =>
        opened.authenticate({ user: auth.user, accessToken, mechanism: auth.mechanism })
      return Effect.flatMap(tokens.get, (token) =>
        Effect.catchIf(
          offer(token),
          (error) => error._tag === "AuthenticationError" && error.reason === "Rejected" && error.statusCode === 535,
          () => Effect.zipRight(tokens.invalidate(token), Effect.flatMap(tokens.get, offer))
        ))
    }

    /**
     * Once a server refused commands pipelined behind the end of DATA, new
     * sessions to it do not group them for a while, so they do not pay for
     * the lesson again (the server may change its mind with its configuration).
     */
    let groupingRefusedUntil = 0

    /** A connected, secured and authenticated session, with its telemetry; QUIT when the scope closes. */
    const session: Effect.Effect<SmtpProtocol.Session, SmtpError, Scope.Scope> = Effect.gen(function*() {
      let peerAddress: string | undefined = undefined
      const facts = (): ClientFacts => ({
        serverAddress: resolved.host,
        serverPort: resolved.port,
        peerAddress,
        scheme
      })
      const started = yield* nowMillis
      const opened = yield* protocol.connect({
        host: resolved.host,
        port: resolved.port,
        protocol: resolved.protocol,
        security: resolved.security,
        tls: resolved.tls,
        ehloName: resolved.ehloName,
        protocolLog: resolved.protocolLog,
        timeouts: resolved.timeouts,
        credentialsFollow: resolved.auth !== undefined,
        onTransport: (address) => {
          peerAddress = address
        },
        pipelineAfterData: started >= groupingRefusedUntil,
        onPipelineAfterDataRefused: () => {
          groupingRefusedUntil = millisOf(clock) + groupingLessonMillis
        }
      }).pipe(
        Effect.onExit((exit) =>
          Effect.flatMap(
            nowMillis,
            (now) => metrics.clientConnect({ ...facts(), outcome: outcomeOf(exit), durationMs: now - started })
          )
        ),
        // Once the TCP connection exists, also when the connect then fails.
        Effect.ensuring(
          Effect.suspend(() =>
            peerAddress === undefined ? Effect.void : Effect.annotateCurrentSpan("network.peer.address", peerAddress)
          )
        ),
        traced("smtp.connect", spanAttributes)
      )
      const ready = yield* nowMillis
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          const broken = yield* opened.broken
          // Interrupted mid-exchange; a pool closing an idle connection is a clean close.
          const interrupted = yield* opened.interrupted
          // Goodbye only where the session is still in step; otherwise the
          // socket is simply destroyed with the scope.
          if (broken === undefined && !interrupted) yield* Effect.ignore(opened.quit)
          const now = yield* nowMillis
          const outcome: Outcome = broken !== undefined
            ? { _tag: "Failure", error: broken }
            : interrupted
            ? { _tag: "Interrupted" }
            : { _tag: "Success" }
          yield* metrics.connectionEnd({ ...facts(), outcome, durationSeconds: (now - ready) / 1000 })
        })
      )
      if (resolved.auth !== undefined) {
        yield* authenticate(opened, resolved.auth).pipe(
          traced("smtp.authenticate", { ...spanAttributes, "network.peer.address": opened.remoteAddress })
        )
      }
      return opened
    })

    const pool = options.pool === undefined
      ? undefined
      : yield* pooling.make(options.pool === true ? {} : options.pool, session)
    const policy = yield* sendPolicy.make(options)

    /** The smtp.send span's attributes, made once per peer address rather than per message. */
    const sendSpanAttributesByPeer = new Map<string, Record<string, unknown>>()
    const sendSpanAttributes = (remoteAddress: string): Record<string, unknown> => {
      let attributes = sendSpanAttributesByPeer.get(remoteAddress)
      if (attributes === undefined) {
        attributes = { ...spanAttributes, "network.peer.address": remoteAddress }
        sendSpanAttributesByPeer.set(remoteAddress, attributes)
      }
      return attributes
    }

    /**
     * The send's count and duration, and its span, recorded when it ended
     * with the time its transaction began. Input refused before any byte was
     * written is no send attempt.
     */
    const recordSend = (exit: Exit.Exit<unknown, unknown>, began: Began): Effect.Effect<void> => {
      const refused = Exit.isFailure(exit) &&
        Option.exists(Cause.failureOption(exit.cause), (e) => isSmtpError(e) && e._tag === "InvalidInputError")
      const span = clientSpan.ended(
        "smtp.send",
        () => sendSpanAttributes(began.remoteAddress),
        spanFailures,
        exit,
        began.nanos
      )
      if (refused) return span
      return Effect.zipRight(
        metrics.messageSend({
          serverAddress: resolved.host,
          serverPort: resolved.port,
          peerAddress: began.remoteAddress,
          scheme,
          outcome: outcomeOf(exit),
          durationMs: Number(clock.unsafeCurrentTimeNanos() - began.nanos) / 1e6
        }),
        span
      )
    }

    const send = <E, E2>(sendable: SmtpClient.Sendable<E>, sendOptions?: SmtpClient.SendOptions<E2>) =>
      Effect.suspend((): Effect.Effect<SmtpClient.SendResult, SmtpError | E | E2> => {
        const given = toMail(sendable)
        const mail = given.partialDelivery === undefined && options.partialDelivery !== undefined
          ? { ...given, partialDelivery: options.partialDelivery }
          : given
        // Scanned once, before any connection: its checks need no server, and
        // the scan is then not on the way from one message's reply to the next body.
        const invalid = commands.checkEnvelope(mail) ?? credentialsInvalid
        if (invalid !== undefined) return Effect.fail(invalid)
        const message = outgoing.make(mail, true)
        const unsendable = outgoing.check(message)
        if (unsendable !== undefined) return Effect.fail(unsendable)
        const attempt = (progress: SmtpProtocol.DeliveryProgress) => {
          // When and where the transaction began: its telemetry is recorded once it ends.
          let began: Began | undefined = undefined
          const transaction = (opened: SmtpProtocol.Session, next: SmtpProtocol.Outgoing<unknown> | undefined) =>
            Effect.suspend(() => {
              began = { nanos: clock.unsafeCurrentTimeNanos(), remoteAddress: opened.remoteAddress }
              return opened.send(message, {
                pipelineNext: next,
                progress,
                beforeEndOfData: sendOptions?.beforeEndOfData
              })
            })
          const recorded = <A, X>(effect: Effect.Effect<A, X>) =>
            Effect.onExit(effect, (exit) => began === undefined ? Effect.void : recordSend(exit, began))
          // Pooled, the session is given back before the telemetry is recorded; on a
          // session of its own, the telemetry is recorded before its QUIT.
          const sent = pool === undefined
            ? Effect.scoped(Effect.flatMap(session, (opened) => recorded(transaction(opened, undefined))))
            : recorded(pool.use(message, transaction))
          return Effect.map(sent, (result) => toResult(mail, result))
        }
        return policy(attempt, mail.messageId)
      })

    return {
      options: resolved,
      session,
      send,
      verify: Effect.scoped(Effect.asVoid(session))
    }
  })

/** What the caller gets: the transaction's result, the envelope and the Message-ID. */
const toResult = (mail: SmtpClient.Mail<unknown>, result: SmtpProtocol.TransactionResult): SmtpClient.SendResult => ({
  // Property by property: spreading a ten-field object costs more than the rest of the result.
  accepted: result.accepted,
  rejected: result.rejected,
  recipients: result.recipients,
  response: result.response,
  statusCode: result.statusCode,
  enhancedStatusCode: result.enhancedStatusCode,
  bytesSent: result.bytesSent,
  queueId: result.queueId,
  timings: result.timings,
  deliveries: result.deliveries,
  envelope: { from: mail.from, to: mail.to },
  messageId: mail.messageId
})
