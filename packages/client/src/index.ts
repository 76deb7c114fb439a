/**
 * effect-smtp: an SMTP client for Effect applications.
 *
 * The services are tags with their constructors as static members, so both
 * `yield* SmtpClient` and `SmtpClient.send(mail)` read naturally. Each module
 * is also importable on its own, e.g. `@effect-smtp/client/SmtpClient`.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as SmtpError from "./SmtpError.js"

/**
 * @since 0.1.0
 */
export { SmtpMetrics } from "./SmtpMetrics.js"

/**
 * @since 0.1.0
 */
export type {
  AuthenticateEvent,
  ClientConnectEvent,
  ClientFacts,
  ConnectionEndEvent,
  EffectMetricOptions,
  MessageSendEvent,
  Outcome,
  SmtpMetricsService,
  SocketConnectEvent
} from "./SmtpMetrics.js"

/**
 * The instruments of both telemetry profiles as data (meters, names, units,
 * descriptions, bucket boundaries), shared by every metrics backend.
 *
 * @since 0.1.0
 */
export * as SmtpInstruments from "./SmtpInstruments.js"

/**
 * Prometheus names as a MailKit application exports them (units as words,
 * `_total`), for Effect's own Prometheus exporter.
 *
 * @since 1.0.0
 */
export * as SmtpPrometheus from "./SmtpPrometheus.js"

/**
 * Outcomes and facts to the attributes of either profile, under its presence rules.
 *
 * @since 0.1.0
 */
export * as SmtpTelemetry from "./SmtpTelemetry.js"

/**
 * The telemetry profiles, `"documented"` (the default) and `"shipped"`:
 * instruments, spans and the one mapping from observations to attributes.
 *
 * @since 0.2.0
 */
export * as SmtpTelemetryProfile from "./SmtpTelemetryProfile.js"

/**
 * @since 0.1.0
 */
export { Socket } from "./Socket.js"

/**
 * @since 0.1.0
 */
export type { Connection, ConnectOptions, SocketService, TlsOptions } from "./Socket.js"

/**
 * @since 0.1.0
 */
export { SmtpProtocol } from "./SmtpProtocol.js"

/**
 * @since 0.1.0
 */
export type {
  Capabilities,
  Credentials,
  DeliveryProgress,
  DsnOptions,
  Envelope,
  Message,
  Outgoing,
  ProtocolLogOptions,
  RecipientResult,
  Reply,
  Security,
  SendOptions as SessionSendOptions,
  Session,
  Timeouts,
  TransactionResult
} from "./SmtpProtocol.js"

/**
 * @since 0.1.0
 */
export { SmtpClient } from "./SmtpClient.js"

/**
 * @since 0.1.0
 */
export type {
  Auth,
  ComposedMail,
  Mail,
  OAuthToken,
  Options as SmtpClientOptions,
  PoolOptions,
  RateLimitOptions,
  ResolvedOptions,
  Sendable,
  SendOptions,
  SendResult,
  TokenProviderCredentials
} from "./SmtpClient.js"

/**
 * The one checker of addresses and text that reach the wire, shared with
 * `@effect-smtp/message`.
 *
 * @since 0.1.0
 */
export * as SmtpAddress from "./SmtpAddress.js"

/**
 * Client options from `SMTP_URL` or `SMTP_HOST`, `SMTP_PORT`, ... through Effect `Config`.
 *
 * @since 0.1.0
 */
export * as SmtpConfig from "./SmtpConfig.js"
