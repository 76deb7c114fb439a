import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as SmtpClient from "../SmtpClient.js"
import { describeValue, InvalidInputError, isSmtpError, type SmtpError } from "../SmtpError.js"
import { SmtpMetrics } from "../SmtpMetrics.js"
import * as SmtpProtocol from "../SmtpProtocol.js"
import * as commands from "./commands.js"
import * as operation from "./operation.js"
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

/**
 * The server's address as the type says it is. A JavaScript caller can pass
 * anything (`port: process.env.SMTP_PORT` is a string): refused here, with a
 * typed error before any connection, not as a defect when an error naming
 * the endpoint is built from it later.
 *
 * @internal
 */
export const checkEndpoint = (host: unknown, port: unknown): InvalidInputError | undefined => {
  if (typeof host !== "string" || host.trim() === "") {
    return new InvalidInputError({
      field: "host",
      reason: `must be the server's name or IP address, got ${
        typeof host === "string" ? "an empty string" : host === null ? "null" : typeof host
      }`
    })
  }
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    return new InvalidInputError({
      field: "port",
      reason: `must be a whole number from 1 to 65535, got ${
        typeof port === "string" ? `the string ${describeValue(port, 20)} (convert it with Number(...))` : String(port)
      }`
    })
  }
  return undefined
}

/** How long a client remembers that its server refuses commands pipelined behind the end of DATA. */
const groupingLessonMillis = 60 * 60 * 1000

const millisOf = (clock: Clock.Clock): number => Number(clock.currentTimeNanosUnsafe()) / 1e6

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

/**
 * The checks a send makes before any I/O; the scanned message when they pass.
 * The body is scanned once here, so its checks need no server and the scan
 * is not on the way from one message's reply to the next body.
 */
const prepareMail = <E>(mail: SmtpClient.Mail<E>): InvalidInputError | outgoing.Outgoing<E> => {
  const invalid = commands.checkEnvelope(mail)
  if (invalid !== undefined) return invalid
  const message = outgoing.make(mail, true)
  return outgoing.check(message) ?? message
}

/** @internal */
export const checkMail = <E>(sendable: SmtpClient.Sendable<E>): InvalidInputError | undefined => {
  const prepared = prepareMail(toMail(sendable))
  return prepared instanceof InvalidInputError ? prepared : undefined
}

/**
 * How the client opens a session: connected, secured and authenticated, with
 * its telemetry, and QUIT when its scope closes. Made once per client: it
 * keeps the token cache and the lesson that a server refuses commands ahead.
 */
const sessions = (
  protocol: SmtpProtocol.SmtpProtocolService,
  operations: operation.Operations,
  resolved: SmtpClient.ResolvedOptions,
  optionsInvalid: InvalidInputError | undefined,
  tokens: tokenCache.TokenCache | undefined,
  clock: Clock.Clock
): Effect.Effect<SmtpProtocol.Session, SmtpError, Scope.Scope> => {
  /**
   * AUTH with the configured credentials. A provider's token the server
   * refuses (535) is refreshed once and offered once more: it may have been
   * revoked or expired early.
   */
  const authenticate = (opened: SmtpProtocol.Session, auth: SmtpClient.Auth): Effect.Effect<void, SmtpError> => {
    if (!("tokenProvider" in auth)) return opened.authenticate(auth)
    if (tokens === undefined) return Effect.die(new Error("a token provider without its cache"))
    const offer = (accessToken: Redacted.Redacted<string>) =>
      opened.authenticate({ user: auth.user, accessToken, mechanism: auth.mechanism })
    return Effect.flatMap(tokens.get, (token) =>
      Effect.catchIf(
        offer(token),
        (error) => error._tag === "AuthenticationError" && error.reason === "Rejected" && error.statusCode === 535,
        () => Effect.andThen(tokens.invalidate(token), Effect.flatMap(tokens.get, offer))
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
    // A bad endpoint or bad credentials are refused before the connection, for `verify` and `session` as for `send`.
    if (optionsInvalid !== undefined) return yield* optionsInvalid
    const [opened, connection] = yield* operations.connect((onTransport) =>
      protocol.connect({
        host: resolved.host,
        port: resolved.port,
        protocol: resolved.protocol,
        security: resolved.security,
        tls: resolved.tls,
        ehloName: resolved.ehloName,
        protocolLog: resolved.protocolLog,
        timeouts: resolved.timeouts,
        credentialsFollow: resolved.auth !== undefined,
        onTransport,
        pipelineAfterData: millisOf(clock) >= groupingRefusedUntil,
        onPipelineAfterDataRefused: () => {
          groupingRefusedUntil = millisOf(clock) + groupingLessonMillis
        }
      })
    )
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const broken = yield* opened.broken
        // Interrupted mid-exchange; a pool closing an idle connection is a clean close.
        const interrupted = yield* opened.interrupted
        // Goodbye only where the session is still in step; otherwise the
        // socket is simply destroyed with the scope.
        if (broken === undefined && !interrupted) yield* Effect.ignore(opened.quit)
        yield* operations.connectionEnd(connection, broken, interrupted)
      })
    )
    if (resolved.auth !== undefined) {
      yield* operations.authenticate(connection, authenticate(opened, resolved.auth))
    }
    return opened
  })

  return session
}

/** @internal */
export const make = (
  options: SmtpClient.Options
): Effect.Effect<SmtpClient.SmtpClientService, never, SmtpProtocol.SmtpProtocol | SmtpMetrics | Scope.Scope> =>
  Effect.gen(function*() {
    const protocol = yield* SmtpProtocol.SmtpProtocol
    const metrics = yield* SmtpMetrics
    const clock = yield* Clock.Clock
    const resolved = resolve(options)
    const optionsInvalid = checkEndpoint(resolved.host, resolved.port) ??
      (resolved.auth === undefined ? undefined : sasl.checkCredentials(resolved.auth))
    const tokens = resolved.auth !== undefined && "tokenProvider" in resolved.auth
      ? yield* tokenCache.make(resolved.auth)
      : undefined
    // The client's telemetry: one operation per connect, authenticate and send (MailKit's NetworkOperation).
    const operations = operation.make(metrics, {
      host: resolved.host,
      port: resolved.port,
      scheme: resolved.security === "tls" ? "smtps" : "smtp"
    })

    const session = sessions(protocol, operations, resolved, optionsInvalid, tokens, clock)

    const pool = options.pool === undefined
      ? undefined
      : yield* pooling.make(options.pool === true ? {} : options.pool, session)
    const policy = yield* sendPolicy.make(options)

    const send = <E, E2>(sendable: SmtpClient.Sendable<E>, sendOptions?: SmtpClient.SendOptions<E2>) =>
      Effect.suspend((): Effect.Effect<SmtpClient.SendResult, SmtpError | E | E2> => {
        const given = toMail(sendable)
        const mail = given.partialDelivery === undefined && options.partialDelivery !== undefined
          ? { ...given, partialDelivery: options.partialDelivery }
          : given
        const message = prepareMail(mail)
        if (message instanceof InvalidInputError) return Effect.fail(message)
        if (optionsInvalid !== undefined) return Effect.fail(optionsInvalid)
        const attempt = (progress: SmtpProtocol.DeliveryProgress) => {
          // Begun when the transaction begins; recorded once it ended (a pool first takes the connection back).
          let sending: operation.SendRecord | undefined = undefined
          const transaction = (opened: SmtpProtocol.Session, ahead: SmtpProtocol.Outgoing<unknown> | undefined) =>
            Effect.withFiber<SmtpProtocol.TransactionResult, SmtpError | E | E2>((fiber) => {
              // A send that goes again on a fresh connection stays one send.
              const record = sending ?? operations.beginSend(fiber, opened.remoteAddress)
              sending = record
              return Effect.onExit(
                opened.send(message, { pipelineNext: ahead, progress, beforeEndOfData: sendOptions?.beforeEndOfData }),
                () => Effect.sync(record.ended)
              )
            })
          const recorded = <A, X>(effect: Effect.Effect<A, X>) =>
            Effect.onExit(effect, (exit) => sending === undefined ? Effect.void : sending.record(exit))
          // Pooled, the session is given back before the telemetry is recorded; on a
          // session of its own, the telemetry is recorded before its QUIT.
          // A reused connection that failed before any of the message went out
          // (closed, reset, or a 421 goodbye): the pool sends once more on a fresh one.
          const again = (error: unknown): boolean => {
            if (progress.bodyStarted === true || !closedUnderUs(error)) return false
            sending?.again(error)
            return true
          }
          const sent = pool === undefined
            ? Effect.scoped(Effect.flatMap(session, (opened) => recorded(transaction(opened, undefined))))
            : recorded(pool.use(message, transaction, again))
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

/**
 * A failure that says the server dropped the connection, not that it refused
 * the message: a socket closed or reset, or a 421 (the server is closing the
 * channel). A timeout is not one: a silent server would be waited for twice.
 */
const closedUnderUs = (error: unknown): boolean =>
  isSmtpError(error) &&
  (error._tag === "SocketError" || (error._tag === "SmtpCommandError" && error.statusCode === 421))

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
