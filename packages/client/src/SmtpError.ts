/**
 * The typed failures of effect-smtp. Each carries the data a program (and the
 * metrics layer) needs as fields, and a `message` a person can act on.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as internal from "./internal/smtpError.js"

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
 * A transport failure. `code` is the OS / libuv code (`ECONNREFUSED`, ...) when
 * one was received; `socketError` is the same code as a .NET `SocketError`
 * number, the value of the documented `socket.error` attribute. A peer that
 * closed the connection without an error has no code.
 *
 * @since 0.1.0
 * @category errors
 */
export class SocketError extends Data.TaggedError("SocketError")<{
  readonly operation: SocketOperation
  readonly host: string
  readonly port: number
  /** The IP the failing attempt used, when one had been resolved. */
  readonly address?: string | undefined
  /**
   * The proxy (`host:port`) the connection went through, if any; `address`
   * is then the proxy's IP.
   */
  readonly proxy?: string | undefined
  readonly code?: string | undefined
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId

  /**
   * The `System.Net.Sockets.SocketError` number for `code`, or `undefined`
   * when no OS code was received.
   *
   * @since 0.1.0
   */
  get socketError(): number | undefined {
    return internal.socketErrorOf(this.code)
  }

  /**
   * Worth trying again later: the network may recover. A name that does not
   * resolve at all (ENOTFOUND) will not.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return !internal.unresolvable(this.code)
  }

  override get message(): string {
    return internal.socketMessage(this)
  }
}

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
 * A TLS failure: the handshake or the certificate check failed, or security
 * "starttls" was required and the server does not offer STARTTLS.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsError extends Data.TaggedError("TlsError")<{
  readonly reason: TlsFailure
  readonly host: string
  readonly port: number
  /**
   * The security mode in force (`StartTlsUnavailable`): "starttls" asks for
   * STARTTLS; "starttls-if-available" (the default) refuses plaintext only
   * because credentials would cross it.
   */
  readonly security?: "tls" | "starttls" | "starttls-if-available" | "none" | undefined
  /** The TLS library's code, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`. */
  readonly code?: string | undefined
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId

  /**
   * A certificate or a missing STARTTLS is a configuration matter; retrying
   * unchanged would fail the same way.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return internal.tlsMessage(this)
  }
}

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
 * The SOCKS5 or HTTP CONNECT proxy in front of the SMTP server failed: a
 * failure of the proxy (or of what it was asked to reach), told apart from
 * one of the SMTP server reached directly. `proxy` is its `host:port`, never
 * its credentials; `host` and `port` are the SMTP server the tunnel was for.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProxyError extends Data.TaggedError("ProxyError")<{
  readonly reason: ProxyFailure
  readonly protocol: "socks5" | "socks5h" | "http"
  /** The proxy, as `host:port`. */
  readonly proxy: string
  readonly host: string
  readonly port: number
  /** The OS code, when the proxy could not be reached or dropped the connection. */
  readonly code?: string | undefined
  /** The proxy's answer: the SOCKS5 reply (or RFC 1929 status) byte, or the HTTP status. */
  readonly reply?: number | undefined
  /** What the proxy said or did, e.g. `connection refused` or `403 Filtered`; untrusted text. */
  readonly detail?: string | undefined
  /** The timeout that ran out (`Timeout` only). */
  readonly timeout?: Duration.Duration | undefined
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId

  /**
   * The `System.Net.Sockets.SocketError` number for `code` (the documented
   * `socket.error`), or `undefined` when no OS code was received.
   *
   * @since 0.1.0
   */
  get socketError(): number | undefined {
    return internal.socketErrorOf(this.code)
  }

  /**
   * A proxy or SMTP server that is down or slow may come back; refused
   * credentials, a forbidden destination and a proxy that speaks another
   * protocol stay that way.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return internal.proxyRetryable(this)
  }

  override get message(): string {
    return internal.proxyMessage(this)
  }
}

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
 * The server answered a command with a failure reply (4xx / 5xx, or a code the
 * command does not allow). `statusCode` is the documented `smtp.status_code`.
 * When no recipient was accepted, `rejectedRecipients` says which failed and why.
 *
 * @since 0.1.0
 * @category errors
 */
export class SmtpCommandError extends Data.TaggedError("SmtpCommandError")<{
  readonly command: string
  readonly statusCode: number
  readonly enhancedStatusCode?: string | undefined
  readonly serverMessage: string
  readonly recipient?: string | undefined
  readonly rejectedRecipients?: ReadonlyArray<RecipientRejection> | undefined
  /**
   * `partialDelivery: "abort"`: the recipients the server accepted before the
   * message was aborted (RSET, no DATA) because others were refused.
   */
  readonly acceptedRecipients?: ReadonlyArray<string> | undefined
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId

  /**
   * A 4xx reply: the server asks to try again later.
   *
   * @since 0.1.0
   */
  get isTransient(): boolean {
    return this.statusCode >= 400 && this.statusCode < 500
  }

  /**
   * Worth trying again later: a 4xx reply (421, 432, 450, 451, 452, 454, ...),
   * unless its enhanced code says the failure is permanent (class 5).
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return internal.isTransientReply(this.statusCode, this.enhancedStatusCode)
  }

  override get message(): string {
    return internal.commandMessage(this)
  }
}

/**
 * The server broke the protocol: a malformed or over-long reply, or bytes
 * where none may be (the STARTTLS response-injection attack).
 *
 * @since 0.1.0
 * @category errors
 */
export class SmtpProtocolError extends Data.TaggedError("SmtpProtocolError")<{
  readonly reason:
    | "MalformedReply"
    | "ReplyTooLong"
    | "UnexpectedReply"
    | "StartTlsInjection"
  readonly detail: string
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId

  /**
   * A server that breaks the protocol (or attacks) is not retried.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return internal.protocolMessage(this)
  }
}

/**
 * AUTH failed: the server refused the credentials (with its status code), no
 * mechanism both sides support exists, or the server could not prove it knows
 * the password (SCRAM's server signature, `ServerUnverified`) or broke the
 * mechanism (`MechanismFailed`).
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthenticationError extends Data.TaggedError("AuthenticationError")<{
  readonly reason:
    | "Rejected"
    | "NoCommonMechanism"
    | "NotOffered"
    | "TokenUnavailable"
    | "ServerUnverified"
    | "MechanismFailed"
  readonly mechanism?: string | undefined
  readonly statusCode?: number | undefined
  readonly enhancedStatusCode?: string | undefined
  readonly serverMessage?: string | undefined
  readonly offered?: ReadonlyArray<string> | undefined
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId

  /**
   * Only a temporary refusal (454 4.7.0, say) is worth retrying; wrong
   * credentials stay wrong.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return this.statusCode !== undefined && internal.isTransientReply(this.statusCode, this.enhancedStatusCode)
  }

  override get message(): string {
    return internal.authenticationMessage(this)
  }
}

/**
 * A wait ran past its timeout. Raised by the client's own timer, so it never
 * carries a `socket.error`.
 *
 * @since 0.1.0
 * @category errors
 */
export class TimeoutError extends Data.TaggedError("TimeoutError")<{
  readonly operation: string
  readonly timeout: Duration.Duration
  /** Where the client waited: set for the greeting, whose silence has a likely cause worth naming. */
  readonly host?: string | undefined
  readonly port?: number | undefined
  /** The security mode the connection was opened with (greeting only). */
  readonly security?: "tls" | "starttls" | "starttls-if-available" | "none" | undefined
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId

  /**
   * A slow or unreachable server may answer later. (A timeout after the end
   * of the message is a `DeliveryUnknownError` instead, never retried.)
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return true
  }

  override get message(): string {
    return internal.timeoutMessage(this)
  }
}

/**
 * Input rejected before any byte was written: a control character in an
 * address or parameter, no recipients, a message over the server's SIZE, ...
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidInputError extends Data.TaggedError("InvalidInputError")<{
  /** Which input: "from", "to", "ehloName", "auth.user", "dsn.envid", ... */
  readonly field: string
  readonly reason: string
  /**
   * Found part way through a streamed body: what was streamed before it may
   * have reached the server, never the end of the message (the final dot or
   * BDAT LAST), so the server discards it and nothing is delivered.
   */
  readonly foundWhileStreaming?: boolean | undefined
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId

  /**
   * Bad input stays bad.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return internal.invalidInputMessage(this)
  }
}

/**
 * The end of the message (the final dot, or BDAT LAST) was written, and then
 * the connection failed, timed out or was cut off before the server's reply.
 * The server may already hold the message: resending could deliver it twice,
 * so this is never retried automatically. `cause` is what failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class DeliveryUnknownError extends Data.TaggedError("DeliveryUnknownError")<{
  readonly cause: SocketError | TimeoutError | SmtpProtocolError
  /** The message's Message-ID, when known, to look it up at the recipient. */
  readonly messageId?: string | undefined
  readonly recipients: ReadonlyArray<string>
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId

  /**
   * Never retried automatically: the message may have been delivered.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return internal.deliveryUnknownMessage(this)
  }
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
