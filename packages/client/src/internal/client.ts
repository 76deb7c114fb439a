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
import * as messageBody from "./messageBody.js"
import * as pooling from "./pool.js"
import * as sasl from "./sasl.js"
import * as sendPolicy from "./sendPolicy.js"
import * as tokenCache from "./tokenCache.js"

/** @internal */
export interface ResolvedOptions {
  readonly host: string
  readonly port: number
  readonly security: SmtpProtocol.Security
  readonly auth: SmtpClient.Auth | undefined
  readonly tls: SmtpClient.Options["tls"]
  readonly timeouts: SmtpProtocol.Timeouts
  readonly ehloName: string | undefined
  readonly protocolLog: SmtpClient.Options["protocolLog"]
}

/** @internal */
export const resolve = (options: SmtpClient.Options): ResolvedOptions => {
  const port = options.port ?? (options.security === "tls" ? 465 : 587)
  return {
    host: options.host,
    port,
    security: options.security ?? (port === 465 ? "tls" : "starttls-if-available"),
    auth: options.auth,
    tls: options.tls,
    timeouts: SmtpProtocol.resolveTimeouts(options.timeout, options.timeouts),
    ehloName: options.ehloName,
    protocolLog: options.protocolLog
  }
}

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

/**
 * A client span around `effect`: `error.type` on failure, the failure recorded
 * as a `SpanFailure`; the caller still gets the error itself. With the tracer
 * disabled nothing is made at all. A `"parent"` span (connect, authenticate)
 * is the parent of what runs inside; a `"leaf"` span (send, once a message)
 * is made when the send ends, with the time it started (see `clientSpan`).
 */
const traced =
  (name: string, attributes: Record<string, unknown>, nesting: "parent" | "leaf") =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(FiberRef.get(FiberRef.currentTracerEnabled), (enabled) =>
      !enabled
        ? effect
        : nesting === "parent"
        ? clientSpan.use(name, attributes, spanFailures, (span) => Effect.withParentSpan(effect, span))
        : clientSpan.record(name, attributes, spanFailures, effect))

/** A composed message's envelope comes from the message itself. */
const toEnvelope = <E>(sendable: SmtpClient.Sendable<E>): SmtpClient.Mail<E> =>
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

/** The checks `send` makes before any I/O. @internal */
export const checkMail = <E>(sendable: SmtpClient.Sendable<E>): InvalidInputError | undefined =>
  commands.checkEnvelope(toEnvelope(sendable))

/** @internal */
export const make = <R extends SmtpClient.SendResult>(
  options: SmtpClient.Options,
  toResult: (
    mail: SmtpClient.Mail<unknown>,
    result: SmtpProtocol.TransactionResult,
    messageId: string | undefined
  ) => R
) =>
  Effect.gen(function*() {
    const protocol = yield* SmtpProtocol.SmtpProtocol
    const metrics = yield* SmtpMetrics
    const resolved = resolve(options)
    const credentialsInvalid = resolved.auth === undefined ? undefined : sasl.checkCredentials(resolved.auth)
    const tokens = resolved.auth !== undefined && "tokenProvider" in resolved.auth
      ? yield* tokenCache.make(resolved.auth)
      : undefined

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
    const scheme = resolved.security === "tls" ? "smtps" as const : "smtp" as const
    const spanAttributes = {
      "url.scheme": scheme,
      "server.address": resolved.host,
      "server.port": resolved.port
    }

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
        security: resolved.security,
        tls: resolved.tls,
        ehloName: resolved.ehloName,
        protocolLog: resolved.protocolLog,
        timeouts: resolved.timeouts,
        credentialsFollow: resolved.auth !== undefined,
        onTransport: (address) => {
          peerAddress = address
        }
      }).pipe(
        Effect.onExit((exit) =>
          Effect.flatMap(nowMillis, (now) =>
            metrics.clientConnect({ ...facts(), outcome: outcomeOf(exit), durationMs: now - started }))
        ),
        // Once the TCP connection exists, also when the connect then fails.
        Effect.ensuring(Effect.suspend(() =>
          peerAddress === undefined ? Effect.void : Effect.annotateCurrentSpan("network.peer.address", peerAddress)
        )),
        traced("smtp.connect", spanAttributes, "parent")
      )
      const ready = yield* nowMillis
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          const broken = yield* opened.broken
          // Interrupted mid-exchange; a pool closing an idle connection is a clean close.
          const interrupted = yield* opened.interrupted
          // Goodbye only where the session is still in step; otherwise the
          // socket is simply destroyed with the scope.
          if (broken === undefined && !interrupted) {
            yield* Effect.ignore(opened.quit)
          }
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
          traced("smtp.authenticate", { ...spanAttributes, "network.peer.address": opened.remoteAddress }, "parent")
        )
      }
      return opened
    })

    const transaction = <E>(
      opened: SmtpProtocol.Session,
      mail: SmtpClient.Mail<E>,
      next?: SmtpClient.Mail<unknown> | undefined,
      sent?: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
    ) =>
      Effect.clockWith((clock) => {
        const progress = progressOf.get(mail as SmtpClient.Mail<unknown>)
        if (progress !== undefined) {
          progress.awaitingFinalReply = opened.awaitingFinalReply
        }
        const started = millisOf(clock)
        const beforeEndOfData = hookOf.get(mail as SmtpClient.Mail<unknown>) as Effect.Effect<void, E> | undefined
        const transferred = Effect.onExit(opened.send(mail, { pipelineNext: next, beforeEndOfData }), (exit) => {
          const durationMs = millisOf(clock) - started
          // Input refused before any byte was written is no send attempt.
          const refused = Exit.isFailure(exit) &&
            Option.exists(Cause.failureOption(exit.cause), (e) =>
              isSmtpError(e) && e._tag === "InvalidInputError")
          const recorded = refused ? Effect.void : Effect.suspend(() =>
            metrics.messageSend({
              serverAddress: resolved.host,
              serverPort: resolved.port,
              peerAddress: opened.remoteAddress,
              scheme,
              outcome: outcomeOf(exit),
              durationMs
            })
          )
          // The connection passes on first; the telemetry waits its turn.
          return sent === undefined ? recorded : Effect.zipRight(sent(exit), recorded)
        })
        return Effect.map(transferred, (result) =>
          toResult(mail as SmtpClient.Mail<unknown>, result, mail.messageId))
      }).pipe(traced("smtp.send", sendSpanAttributes(opened), "leaf"))

    /** The smtp.send span's attributes, made once per connection rather than per message. */
    const sendSpanAttributesOf = new WeakMap<SmtpProtocol.Session, Record<string, unknown>>()
    const sendSpanAttributes = (opened: SmtpProtocol.Session): Record<string, unknown> => {
      let attributes = sendSpanAttributesOf.get(opened)
      if (attributes === undefined) {
        attributes = { ...spanAttributes, "network.peer.address": opened.remoteAddress }
        sendSpanAttributesOf.set(opened, attributes)
      }
      return attributes
    }

    const policy = yield* sendPolicy.make(options)
    /** How a send's progress (for its deadline) reaches the transaction the pool runs for it. */
    const progressOf = new WeakMap<SmtpClient.Mail<unknown>, sendPolicy.Progress>()
    /** How a send's `beforeEndOfData` reaches the transaction, pooled or not: by its attempt's envelope. */
    const hookOf = new WeakMap<SmtpClient.Mail<unknown>, Effect.Effect<void, unknown>>()

    const pool = options.pool === undefined
      ? undefined
      : yield* pooling.make(options.pool === true ? {} : options.pool, session, transaction)

    const service: SmtpClient.SmtpClientService = {
      options: resolved,
      session,
      send: <E, E2 = never>(sendable: SmtpClient.Sendable<E>, sendOptions?: SmtpClient.SendOptions<E2>) =>
        Effect.suspend((): Effect.Effect<R, SmtpError | E | E2> => {
          const given = toEnvelope(sendable)
          const mail = given.partialDelivery === undefined && options.partialDelivery !== undefined
            ? { ...given, partialDelivery: options.partialDelivery }
            : given
          const invalid = commands.checkEnvelope(mail) ?? credentialsInvalid
          if (invalid !== undefined) {
            return Effect.fail(invalid)
          }
          const attempt = (progress: sendPolicy.Progress) => {
            // This attempt's own envelope: its progress is its own even when
            // the same Mail object is sent twice at once.
            const envelope: SmtpClient.Mail<E | E2> = { ...mail }
            progressOf.set(envelope as SmtpClient.Mail<unknown>, progress)
            if (sendOptions?.beforeEndOfData !== undefined) {
              hookOf.set(envelope as SmtpClient.Mail<unknown>, sendOptions.beforeEndOfData)
            }
            if (pool === undefined) {
              return Effect.scoped(Effect.flatMap(session, (opened) =>
                transaction(opened, envelope)))
            }
            // Its body scanned now, while other messages hold the connection,
            // rather than between two of them.
            messageBody.scanAhead(envelope)
            // The pool runs any message's transaction; the types are the caller's.
            return pool.submit(envelope as SmtpClient.Mail<unknown>) as Effect.Effect<R, SmtpError | E | E2>
          }
          return policy(attempt, mail.messageId)
        }),
      verify: Effect.scoped(Effect.asVoid(session))
    }
    return service
  })
