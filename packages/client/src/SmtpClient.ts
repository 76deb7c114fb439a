/**
 * What applications call: `SmtpClient.send(mail)`. The client connects,
 * secures and authenticates a session per the options, runs the
 * transaction, and records the documented telemetry.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/client.js"
import * as SmtpConfig from "./SmtpConfig.js"
import type { InvalidInputError, SmtpError } from "./SmtpError.js"
import type { SmtpMetrics } from "./SmtpMetrics.js"
import type * as SmtpProtocol from "./SmtpProtocol.js"
import type { TlsOptions } from "./Socket.js"

/**
 * Credentials: a password, or an OAuth2 access token (XOAUTH2 / OAUTHBEARER).
 * Both are `Redacted`, so they never print.
 *
 * @since 0.1.0
 * @category models
 */
export type Auth = SmtpProtocol.Credentials | TokenProviderCredentials

/**
 * Credentials whose token comes from an effect (a refresh-token grant, a
 * service account, ...). Any failure of the provider is reported as an
 * `AuthenticationError` ("TokenUnavailable").
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenProviderCredentials {
  readonly user: string
  readonly tokenProvider: Effect.Effect<OAuthToken, unknown>
  readonly mechanism?: "XOAUTH2" | "OAUTHBEARER" | undefined
  /** Refresh this long before the token expires (default 1 minute). */
  readonly refreshBefore?: Duration.Input | undefined
}

/**
 * An OAuth2 access token and, when the issuer says, how long it lives.
 *
 * @since 0.1.0
 * @category models
 */
export interface OAuthToken {
  readonly accessToken: Redacted.Redacted<string>
  readonly expiresIn?: Duration.Input | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly host: string
  /** Default 587, or 465 when security is "tls". */
  readonly port?: number | undefined
  /** Default: "tls" on port 465, else "starttls-if-available". */
  readonly security?: SmtpProtocol.Security | undefined
  /**
   * "lmtp" speaks LMTP (RFC 2033) to a delivery agent (Dovecot, Cyrus):
   * LHLO, and after the end of a message one reply per recipient, reported
   * in `result.deliveries` and counted in `accepted` and `rejected`.
   * Default "smtp".
   */
  readonly protocol?: "smtp" | "lmtp" | undefined
  readonly auth?: Auth | undefined
  readonly tls?: TlsOptions | undefined
  /** Sets every wait at once: connect, greeting, each command, data. */
  readonly timeout?: Duration.Input | undefined
  /** Finer per-step overrides of `timeout`. */
  readonly timeouts?: { readonly [K in keyof SmtpProtocol.Timeouts]?: Duration.Input | undefined } | undefined
  /** The name sent with EHLO (default `[127.0.0.1]`). */
  readonly ehloName?: string | undefined
  /**
   * Opt-in: log the conversation (`C:` / `S:` lines) on Effect's Logger.
   * Credentials never appear; bodies only with `{ body: true }`.
   */
  readonly protocolLog?: boolean | SmtpProtocol.ProtocolLogOptions | undefined
  /**
   * Keep connections open and share them between concurrent sends, pipelining
   * messages back to back (`true` for the defaults). Without it, every send
   * opens its own connection and closes it with QUIT.
   */
  readonly pool?: true | PoolOptions | undefined
  /**
   * When some recipients are refused: "send" to the rest (default; the result
   * lists the refused) or "abort" the message with RSET. A message may override it.
   */
  readonly partialDelivery?: "send" | "abort" | undefined
  /**
   * Retry failures that are `retryable` (4xx replies, network failures and
   * timeouts before the end of the message) on this schedule, each time on a
   * fresh or healthy connection. Never a `DeliveryUnknownError`. Off by default.
   */
  readonly retry?: Schedule.Schedule<unknown, SmtpError> | undefined
  /** A message rate shared by all sends, and the client-wide pause after a "too many" reply. */
  readonly rateLimit?: RateLimitOptions | undefined
  /**
   * An overall limit for one send, retries and queueing included. Past the end
   * of the message it fails with `DeliveryUnknownError`, else `TimeoutError`.
   */
  readonly deadline?: Duration.Input | undefined
}

/**
 * Limits shared by every send of one client.
 *
 * @since 0.1.0
 * @category models
 */
export interface RateLimitOptions {
  /** At most this many messages per `interval` (e.g. Microsoft 365: 30 a minute). */
  readonly messages?: number | undefined
  readonly interval?: Duration.Input | undefined
  /**
   * How long the whole client pauses after a "too many" reply (421, 432, 450,
   * 451 or 454 saying too many, rate, limit or throttled). Default 30 seconds.
   */
  readonly backoff?: Duration.Input | undefined
}

/**
 * Connection pooling. A send borrows a connection for its transaction and
 * gives it back; when another send is waiting, its MAIL/RCPT/DATA ride
 * behind the current body's end (RFC 2920 §3.1) and the connection passes
 * straight to it, so a busy connection needs one round trip per message.
 *
 * @since 0.1.0
 * @category models
 */
export interface PoolOptions {
  /** Connections open at most at once (default 5). */
  readonly maxConnections?: number | undefined
  /** Messages on one connection before it is replaced (default 100). */
  readonly maxMessagesPerConnection?: number | undefined
  /** How long an unused connection stays open (default 30 seconds). */
  readonly idleTimeToLive?: Duration.Input | undefined
  /** A connection idle at least this long is checked with NOOP before reuse (default 5 seconds). */
  readonly checkIdleAfter?: Duration.Input | undefined
  /**
   * How long a connection may live: one older than this is closed when it
   * next comes back from a send or is taken from the idle list, and a fresh
   * one takes its place (default: no limit). For servers and load balancers
   * that drop long-lived connections, or to follow DNS changes.
   */
  readonly maxAge?: Duration.Input | undefined
}

/**
 * One message. `content` is the RFC 5322 message (headers and body); the
 * client normalises line breaks to CRLF and dot-stuffs it.
 *
 * @since 0.1.0
 * @category models
 */
export type Mail<E = never> = SmtpProtocol.Message<E>

/**
 * A message composed elsewhere (e.g. `MailMessage.compose` of
 * `@effect-smtp/message`): the envelope is taken from it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ComposedMail<E = never> {
  readonly envelope: SmtpProtocol.Envelope
  readonly content: string | Uint8Array | Stream.Stream<Uint8Array, E>
  readonly messageId?: string | undefined
  readonly size?: number | undefined
  readonly dsn?: SmtpProtocol.DsnOptions | undefined
}

/**
 * What `send` takes: an envelope with content, or a composed message.
 *
 * @since 0.1.0
 * @category models
 */
export type Sendable<E = never> = Mail<E> | ComposedMail<E>

/**
 * The outcome of a message the server accepted for at least one recipient.
 * A message no recipient accepted fails with `SmtpCommandError` instead.
 *
 * @since 0.1.0
 * @category models
 */
export interface SendResult extends SmtpProtocol.TransactionResult {
  readonly envelope: { readonly from: string; readonly to: ReadonlyArray<string> }
  /** The Message-ID of a composed message. */
  readonly messageId?: string | undefined
}

/**
 * The options as the client applies them: defaults filled in.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolvedOptions {
  readonly host: string
  readonly port: number
  readonly protocol: "smtp" | "lmtp"
  readonly security: SmtpProtocol.Security
  readonly auth: Auth | undefined
  readonly tls: TlsOptions | undefined
  readonly timeouts: SmtpProtocol.Timeouts
  readonly ehloName: string | undefined
  readonly protocolLog: Options["protocolLog"]
}

/**
 * What one send may ask for besides the message.
 *
 * @since 0.1.0
 * @category models
 */
export interface SendOptions<E2 = never> {
  /**
   * Runs once per attempt, just before the first write that carries the end
   * of the message (the final dot, or BDAT LAST). If it fails, the end is
   * never written, the connection is closed without it (the server discards
   * the partial message), and the send fails with its error. A durable
   * outbox records here that the message may be delivered from now on.
   */
  readonly beforeEndOfData?: Effect.Effect<void, E2> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SmtpClientService {
  readonly options: ResolvedOptions
  /** Sends one message: on a fresh session (connect, AUTH, transaction, QUIT), or a pooled one. */
  readonly send: <E = never, E2 = never>(
    mail: Sendable<E>,
    options?: SendOptions<E2> | undefined
  ) => Effect.Effect<SendResult, SmtpError | E | E2>
  /**
   * A connected, authenticated session for several messages in a row; QUIT
   * when the scope closes.
   */
  readonly session: Effect.Effect<SmtpProtocol.Session, SmtpError, Scope.Scope>
  /** Connects, authenticates and quits: checks the configuration. */
  readonly verify: Effect.Effect<void, SmtpError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class SmtpClient extends Context.Service<SmtpClient, SmtpClientService>()("@effect-smtp/client/SmtpClient") {
  /**
   * The checks `send` makes before it connects, without sending (see `checkMail`).
   *
   * @since 0.1.0
   * @category validation
   */
  static checkMail<E = never>(mail: Sendable<E>): InvalidInputError | undefined {
    return checkMail(mail)
  }

  /**
   * Sends one message with the `SmtpClient` in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static send<E = never, E2 = never>(
    mail: Sendable<E>,
    options?: SendOptions<E2>
  ): Effect.Effect<SendResult, SmtpError | E | E2, SmtpClient> {
    return send(mail, options)
  }

  /**
   * @since 0.1.0
   * @category layers
   */
  static layer(options: Options): Layer.Layer<SmtpClient, never, SmtpProtocol.SmtpProtocol | SmtpMetrics> {
    return layer(options)
  }

  /**
   * @since 0.1.0
   * @category layers
   */
  static layerConfig(
    config?: Config.Wrap<Options>
  ): Layer.Layer<SmtpClient, Config.ConfigError, SmtpProtocol.SmtpProtocol | SmtpMetrics> {
    return layerConfig(config)
  }
}

/**
 * The client's types, reachable from the tag: `SmtpClient.Options`,
 * `SmtpClient.Mail`, `SmtpClient.SendResult`.
 *
 * @since 0.1.0
 * @category models
 */
type Options_ = Options
type Mail_<E> = Mail<E>
type Sendable_<E> = Sendable<E>
type SendResult_ = SendResult
type Auth_ = Auth
type TokenProviderCredentials_ = TokenProviderCredentials
type OAuthToken_ = OAuthToken

export declare namespace SmtpClient {
  /** @since 0.1.0 */
  export type Options = Options_
  /** @since 0.1.0 */
  export type Mail<E = never> = Mail_<E>
  /** @since 0.1.0 */
  export type Sendable<E = never> = Sendable_<E>
  /** @since 0.1.0 */
  export type SendResult = SendResult_
  /** @since 0.1.0 */
  export type Auth = Auth_
  /** @since 0.1.0 */
  export type TokenProviderCredentials = TokenProviderCredentials_
  /** @since 0.1.0 */
  export type OAuthToken = OAuthToken_
  /** @since 0.1.0 */
  export type Service = SmtpClientService
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options: Options
) => Effect.Effect<SmtpClientService, never, SmtpProtocol.SmtpProtocol | SmtpMetrics | Scope.Scope> = internal.make

/**
 * The checks `send` makes before it connects (addresses, control characters,
 * recipients, DSN values, size, lines over 998 octets and NUL octets in a
 * body known up front), without sending: the same `InvalidInputError` a send
 * would fail with, or `undefined`. For code that keeps a message to send later
 * (an outbox), so bad input is refused before it is stored. Checks that need
 * the server (SIZE, SMTPUTF8, 8BITMIME, REQUIRETLS) still happen at send time.
 *
 * @since 0.1.0
 * @category validation
 */
export const checkMail = <E>(mail: Sendable<E>): InvalidInputError | undefined => internal.checkMail(mail)

/**
 * @since 0.1.0
 * @category accessors
 */
export const send = <E = never, E2 = never>(
  mail: Sendable<E>,
  options?: SendOptions<E2>
): Effect.Effect<SendResult, SmtpError | E | E2, SmtpClient> =>
  Effect.flatMap(SmtpClient, (client) => client.send(mail, options))

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<SmtpClient, never, SmtpProtocol.SmtpProtocol | SmtpMetrics> =>
  Layer.effect(SmtpClient, make(options))

/**
 * Options read through Effect `Config`: by default `SMTP_URL`, or `SMTP_HOST`,
 * `SMTP_PORT`, `SMTP_SECURITY`, `SMTP_USER`, `SMTP_PASSWORD`, and `SMTP_CA`
 * (PEM text) for a private CA (see `SmtpConfig.options`); or any
 * `Config.Wrap<Options>`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Wrap<Options> = SmtpConfig.options
): Layer.Layer<SmtpClient, Config.ConfigError, SmtpProtocol.SmtpProtocol | SmtpMetrics> =>
  Layer.unwrap(Effect.map(Config.unwrap(config), layer))
