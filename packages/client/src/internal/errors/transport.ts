import * as Schema from "effect/Schema"
import type { ProxyFailure, SocketOperation, TlsFailure } from "../../SmtpError.js"
import * as internal from "../smtpError.js"
import { everyOf, Security } from "./fields.js"

/**
 * The errors of the way to the server: the socket, TLS, and a proxy in
 * between. Re-exported by `SmtpError`.
 */

const socketOperations = everyOf<SocketOperation>()(["lookup", "connect", "read", "write", "closed"])

/**
 * A transport failure. `code` is the OS / libuv code (`ECONNREFUSED`, ...) when
 * one was received; `socketError` is the same code as a .NET `SocketError`
 * number, the value of the documented `socket.error` attribute. A peer that
 * closed the connection without an error has no code.
 *
 * @since 0.1.0
 * @category errors
 */
export class SocketError extends Schema.TaggedError<SocketError>()("SocketError", {
  operation: Schema.Literals(socketOperations),
  host: Schema.String,
  port: Schema.Number,
  /** The IP the failing attempt used, when one had been resolved. */
  address: Schema.optional(Schema.String),
  /**
   * The proxy (`host:port`) the connection went through, if any; `address`
   * is then the proxy's IP.
   */
  proxy: Schema.optional(Schema.String),
  code: Schema.optional(Schema.String),
  /** What failed underneath (an OS or TLS error); encoded as JSON by `Schema.Defect`. */
  cause: Schema.optional(Schema.Defect())
}) {
  /** @since 0.1.0 */
  readonly [internal.TypeId]: typeof internal.TypeId = internal.TypeId

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

const tlsFailures = everyOf<TlsFailure>()([
  "HandshakeFailed",
  "CertificateRejected",
  "StartTlsUnavailable",
  "ServerInternalError",
  "RequireTlsWithoutTls",
  "RequireTlsNotOffered",
  "RequireTlsUnverified"
])

/**
 * A TLS failure: the handshake or the certificate check failed, or security
 * "starttls" was required and the server does not offer STARTTLS.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsError extends Schema.TaggedError<TlsError>()("TlsError", {
  reason: Schema.Literals(tlsFailures),
  host: Schema.String,
  port: Schema.Number,
  /**
   * The security mode in force (`StartTlsUnavailable`): "starttls" asks for
   * STARTTLS; "starttls-if-available" (the default) refuses plaintext only
   * because credentials would cross it.
   */
  security: Schema.optional(Security),
  /** The TLS library's code, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`. */
  code: Schema.optional(Schema.String),
  /** What failed underneath (an OS or TLS error); encoded as JSON by `Schema.Defect`. */
  cause: Schema.optional(Schema.Defect())
}) {
  /** @since 0.1.0 */
  readonly [internal.TypeId]: typeof internal.TypeId = internal.TypeId

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

const proxyFailures = everyOf<ProxyFailure>()([
  "Unreachable",
  "AuthenticationFailed",
  "Refused",
  "TargetUnreachable",
  "HandshakeFailed",
  "Timeout"
])

/**
 * The SOCKS5 or HTTP CONNECT proxy in front of the SMTP server failed: a
 * failure of the proxy (or of what it was asked to reach), told apart from
 * one of the SMTP server reached directly. `proxy` is its `host:port`, never
 * its credentials; `host` and `port` are the SMTP server the tunnel was for.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProxyError extends Schema.TaggedError<ProxyError>()("ProxyError", {
  reason: Schema.Literals(proxyFailures),
  protocol: Schema.Literals(["socks5", "socks5h", "http"]),
  /** The proxy, as `host:port`. */
  proxy: Schema.String,
  host: Schema.String,
  port: Schema.Number,
  /** The OS code, when the proxy could not be reached or dropped the connection. */
  code: Schema.optional(Schema.String),
  /** The proxy's answer: the SOCKS5 reply (or RFC 1929 status) byte, or the HTTP status. */
  reply: Schema.optional(Schema.Number),
  /** What the proxy said or did, e.g. `connection refused` or `403 Filtered`; untrusted text. */
  detail: Schema.optional(Schema.String),
  /** The timeout that ran out (`Timeout` only); encoded as milliseconds. */
  timeout: Schema.optional(Schema.DurationFromMillis),
  /** What failed underneath (an OS or TLS error); encoded as JSON by `Schema.Defect`. */
  cause: Schema.optional(Schema.Defect())
}) {
  /** @since 0.1.0 */
  readonly [internal.TypeId]: typeof internal.TypeId = internal.TypeId

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
