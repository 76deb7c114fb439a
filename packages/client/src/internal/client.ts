import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as SmtpClient from "../SmtpClient.js"
import type { SmtpError } from "../SmtpError.js"
import { SmtpMetrics } from "../SmtpMetrics.js"
import * as SmtpProtocol from "../SmtpProtocol.js"
import * as commands from "./commands.js"
import * as messageBody from "./messageBody.js"
import * as operation from "./operation.js"
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
    const operations = operation.make(metrics, {
      host: resolved.host,
      port: resolved.port,
      scheme: resolved.security === "tls" ? "smtps" : "smtp"
    })

    const session: Effect.Effect<SmtpProtocol.Session, SmtpError, Scope.Scope> = Effect.gen(function*() {
      const [opened, connection] = yield* operations.connect((onTransport) =>
        protocol.connect({
          host: resolved.host,
          port: resolved.port,
          security: resolved.security,
          tls: resolved.tls,
          ehloName: resolved.ehloName,
          protocolLog: resolved.protocolLog,
          timeouts: resolved.timeouts,
          credentialsFollow: resolved.auth !== undefined,
          onTransport
        })
      )
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
          yield* operations.connectionEnd(connection, broken, interrupted)
        })
      )
      if (resolved.auth !== undefined) {
        yield* operations.authenticate(connection, authenticate(opened, resolved.auth))
      }
      return opened
    })

    const transaction = <E>(
      opened: SmtpProtocol.Session,
      mail: SmtpClient.Mail<E>,
      next?: SmtpClient.Mail<unknown> | undefined,
      sent?: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
    ) =>
      Effect.suspend(() => {
        const progress = progressOf.get(mail as SmtpClient.Mail<unknown>)
        if (progress !== undefined) {
          progress.awaitingFinalReply = opened.awaitingFinalReply
        }
        return Effect.map(
          operations.send(opened.remoteAddress, opened.send(mail, { pipelineNext: next }), sent),
          (result) => toResult(mail as SmtpClient.Mail<unknown>, result, mail.messageId)
        )
      })

    const policy = yield* sendPolicy.make(options)
    /** How a send's progress (for its deadline) reaches the transaction the pool runs for it. */
    const progressOf = new WeakMap<SmtpClient.Mail<unknown>, sendPolicy.Progress>()

    const pool = options.pool === undefined
      ? undefined
      : yield* pooling.make(options.pool === true ? {} : options.pool, session, transaction)

    const service: SmtpClient.SmtpClientService = {
      options: resolved,
      session,
      send: <E>(sendable: SmtpClient.Sendable<E>) =>
        Effect.suspend(() => {
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
            const envelope: SmtpClient.Mail<E> = { ...mail }
            progressOf.set(envelope as SmtpClient.Mail<unknown>, progress)
            if (pool === undefined) {
              return Effect.scoped(Effect.flatMap(session, (opened) => transaction(opened, envelope)))
            }
            // Its body scanned now, while other messages hold the connection,
            // rather than between two of them.
            messageBody.scanAhead(envelope)
            // The pool runs any message's transaction; the types are the caller's.
            return pool.submit(envelope as SmtpClient.Mail<unknown>) as Effect.Effect<R, SmtpError | E>
          }
          return policy(attempt, mail.messageId)
        }),
      verify: Effect.scoped(Effect.asVoid(session))
    }
    return service
  })
