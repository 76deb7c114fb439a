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
  ClientConnectEvent,
  ClientFacts,
  ConnectionEndEvent,
  MessageSendEvent,
  Outcome,
  SmtpMetricsService,
  SocketConnectEvent
} from "./SmtpMetrics.js"

/**
 * @since 0.1.0
 */
export { Socket } from "./Socket.js"

/**
 * @since 0.1.0
 */
export type { Connection, ConnectOptions, SocketService, TlsOptions } from "./Socket.js"
