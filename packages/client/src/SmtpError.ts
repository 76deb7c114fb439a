/**
 * The typed failures of effect-smtp. Each carries the data a program (and the
 * metrics layer) needs as fields, and a `message` a person can act on.
 *
 * @since 0.1.0
 */
import type { DeliveryUnknownError, InvalidInputError, TimeoutError } from "./internal/errors/local.js"
import type { AuthenticationError, SmtpCommandError, SmtpProtocolError } from "./internal/errors/reply.js"
import type { ProxyError, SocketError, TlsError } from "./internal/errors/transport.js"
import * as internal from "./internal/smtpError.js"

// The classes live by where the failure happened (the way to the server, its
// replies, the client's own decisions); their docs are on their declarations.
export { DeliveryUnknownError, InvalidInputError, TimeoutError } from "./internal/errors/local.js"
export { AuthenticationError, SmtpCommandError, SmtpProtocolError } from "./internal/errors/reply.js"
export { ProxyError, SocketError, TlsError } from "./internal/errors/transport.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: typeof internal.TypeId = internal.TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * What the transport was doing when it failed.
 *
 * @since 0.1.0
 * @category models
 */
export type SocketOperation = "lookup" | "connect" | "read" | "write" | "closed"

/**
 * Why a TLS step failed. `"ServerInternalError"`: the server itself aborted
 * the handshake with an internal-error alert (TLS alert 80), so the port does
 * speak TLS but the server's own TLS setup is broken.
 *
 * @since 0.1.0
 * @category models
 */
export type TlsFailure =
  | "HandshakeFailed"
  | "CertificateRejected"
  | "StartTlsUnavailable"
  | "ServerInternalError"
  /** A message asks for REQUIRETLS (RFC 8689) and the session is not encrypted. */
  | "RequireTlsWithoutTls"
  /** A message asks for REQUIRETLS (RFC 8689) and the server does not offer it. */
  | "RequireTlsNotOffered"
  /**
   * A message asks for REQUIRETLS (RFC 8689) and the server's certificate was
   * not verified (verification off, or a name mismatch): `code` says why.
   */
  | "RequireTlsUnverified"

/**
 * Why a proxy did not open the tunnel to the SMTP server.
 *
 * - `Unreachable`: no TCP connection to the proxy itself (refused, no route,
 *   its name does not resolve); `code` is the OS code.
 * - `AuthenticationFailed`: the proxy refused the credentials, or wants some
 *   and none were given (SOCKS5 method or RFC 1929 status, HTTP 401 / 407).
 * - `Refused`: the proxy's rules forbid this destination (SOCKS5 reply 2,
 *   HTTP 403 and other 4xx).
 * - `TargetUnreachable`: the proxy tried and could not reach the SMTP server
 *   (SOCKS5 replies 3 to 6, HTTP 5xx).
 * - `HandshakeFailed`: the proxy closed the connection during the handshake or
 *   answered something that is not the protocol of the URL's scheme.
 * - `Timeout`: the proxy did not connect or answer within the timeout.
 *
 * @since 0.1.0
 * @category models
 */
export type ProxyFailure =
  | "Unreachable"
  | "AuthenticationFailed"
  | "Refused"
  | "TargetUnreachable"
  | "HandshakeFailed"
  | "Timeout"

/**
 * One recipient the server refused.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecipientRejection {
  readonly recipient: string
  readonly statusCode: number
  readonly enhancedStatusCode?: string | undefined
  readonly message: string
}

/**
 * RFC 5321 §4.2.1: 4yz is transient. RFC 3463: the enhanced code's class
 * refines it, and a class-5 code marks the failure permanent.
 *
 * @since 0.1.0
 * @category utils
 */
export const isTransientReply: (statusCode: number, enhancedStatusCode?: string | undefined) => boolean =
  internal.isTransientReply

/**
 * Any failure of effect-smtp.
 *
 * @since 0.1.0
 * @category models
 */
export type SmtpError =
  | SocketError
  | ProxyError
  | TlsError
  | SmtpCommandError
  | SmtpProtocolError
  | AuthenticationError
  | TimeoutError
  | InvalidInputError
  | DeliveryUnknownError

/**
 * @since 0.1.0
 * @category refinements
 */
export const isSmtpError: (u: unknown) => u is SmtpError = internal.isSmtpError

/**
 * Whether a failure is worth retrying later, unchanged: transient replies
 * (4xx, by reply class and enhanced code), network failures and timeouts
 * before the end of the message. Never a `DeliveryUnknownError`.
 *
 * @since 0.1.0
 * @category utils
 */
export const isRetryable = (error: SmtpError): boolean => error.retryable

/**
 * Renders an untrusted value for an error message.
 *
 * @since 0.1.0
 * @category utils
 */
export const describeValue: (text: string, max?: number) => string = internal.quote

/**
 * Whether a failure says the server wants fewer messages from this client
 * (421, 432, 450, 451 or 454 with "too many", "rate", "limit", ... in its
 * text), not only that this message was refused: a reason to pause sending.
 *
 * @since 0.1.0
 * @category utils
 */
export const isThrottling: (error: unknown) => boolean = internal.isThrottling
