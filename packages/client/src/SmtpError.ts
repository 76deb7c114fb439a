/**
 * The typed failures of effect-smtp. Each carries the data a program (and the
 * metrics layer) needs as fields, and a `message` a person can act on.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import * as socketErrorCode from "./internal/socketErrorCode.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@effect-smtp/client/SmtpError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/** Renders untrusted text for an error message: escaped, and short. */
const quote = (text: string, max = 120): string => {
  const shown = text.length > max ? `${text.slice(0, max)}…` : text
  return JSON.stringify(shown)
}

/** The .NET `SocketError` number of an OS code, the value of `socket.error`. */
const socketErrorOf = (code: string | undefined): number | undefined =>
  code === undefined ? undefined : socketErrorCode.fromNodeCode(code)

/** A name that does not resolve at all will not resolve on a retry either. */
const unresolvable = (code: string | undefined): boolean =>
  code === "ENOTFOUND" || code === "EAI_NONAME" || code === "EAI_FAIL"

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
    return socketErrorOf(this.code)
  }

  /**
   * Worth trying again later: the network may recover. A name that does not
   * resolve at all (ENOTFOUND) will not.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return !unresolvable(this.code)
  }

  override get message(): string {
    const target = this.proxy !== undefined
      ? `${this.host}:${this.port} (through the proxy ${this.proxy})`
      : `${this.host}:${this.port}${
        this.address !== undefined && this.address !== this.host ? ` (${this.address})` : ""
      }`
    switch (this.operation) {
      case "lookup":
        return `Could not resolve ${quote(this.host)}${
          this.code ? ` (${this.code})` : ""
        }: check the host name and DNS.`
      case "connect":
        return `Could not connect to ${target}${
          this.code ? ` (${this.code})` : ""
        }: check the host, the port and that the server is listening and reachable.`
      case "closed":
        return `The server at ${target} closed the connection unexpectedly.`
      default:
        return `The connection to ${target} failed while ${this.operation === "read" ? "reading" : "writing"}${
          this.code ? ` (${this.code})` : ""
        }.`
    }
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
    const target = `${this.host}:${this.port}`
    switch (this.reason) {
      case "CertificateRejected":
        return `The certificate of ${target} was rejected${
          this.code ? ` (${this.code})` : ""
        }: check that the host name matches the certificate, or pass the issuing CA in options.tls.ca.`
      case "StartTlsUnavailable":
        // The user may have set no security at all: name the reason that holds for the mode in force.
        return this.security === "starttls-if-available"
          ? `${target} does not offer STARTTLS, and credentials (auth) are never sent in plaintext: nothing was sent (security "starttls-if-available", the default off port 465). Use security "tls" if the server speaks implicit TLS (usually port 465); only on a network you trust (a local relay), security "none" sends the credentials in plaintext.`
          : `${target} does not offer STARTTLS, and security "starttls" requires it: nothing was sent in plaintext. Use security "tls" on port 465 if the server supports implicit TLS.`
      case "RequireTlsWithoutTls":
        return `The message asks for REQUIRETLS (RFC 8689), and the session with ${target} is not encrypted: nothing was sent. Use security "tls" or "starttls".`
      case "RequireTlsNotOffered":
        return `The message asks for REQUIRETLS (RFC 8689), and ${target} does not offer it: nothing was sent. Send it through a server that offers REQUIRETLS, or without requireTls.`
      case "RequireTlsUnverified":
        return `The message asks for REQUIRETLS (RFC 8689), and the certificate of ${target} was not verified${
          this.code ? ` (${this.code})` : ""
        }: RFC 8689 §4.2.1 requires a verified certificate before REQUIRETLS is honoured, so nothing was sent. Keep certificate verification on (no tls.rejectUnauthorized: false), make tls.servername match the certificate, or pass the issuing CA in options.tls.ca.`
      case "ServerInternalError":
        return `${target} aborted the TLS handshake with an internal-error alert${
          this.code ? ` (${this.code})` : ""
        }: the port speaks TLS, but the server failed on its side (its certificate, private key or TLS library; ` +
          "OpenSMTPD 6.8 built with OpenSSL 3 does this for every key). No client option fixes this: " +
          "the server's operator must check its TLS setup and log."
      default:
        // OpenSSL's words for plaintext where a TLS record belongs: a plaintext port (its 220 greeting) reached with "tls".
        if (this.code === "ERR_SSL_WRONG_VERSION_NUMBER" || this.code === "ERR_SSL_PACKET_LENGTH_TOO_LONG") {
          return `The TLS handshake with ${target} failed (${this.code}): the server answered in plaintext, not TLS. Check that the port speaks TLS for this security mode: a port that greets in plaintext (usually 587 or 25) needs security "starttls" (or the default), not "tls".`
        }
        return `The TLS handshake with ${target} failed${
          this.code ? ` (${this.code})` : ""
        }: check that the port speaks TLS for this security mode ("tls" for implicit TLS, usually 465; "starttls", usually 587).`
    }
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
    return socketErrorOf(this.code)
  }

  /**
   * A proxy or SMTP server that is down or slow may come back; refused
   * credentials, a forbidden destination and a proxy that speaks another
   * protocol stay that way.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    switch (this.reason) {
      case "Unreachable":
        return !unresolvable(this.code)
      case "TargetUnreachable":
      case "Timeout":
        return true
      case "HandshakeFailed":
        // A reset mid-handshake is the network's doing; garbage is not.
        return this.code !== undefined
      default:
        return false
    }
  }

  override get message(): string {
    const kind = this.protocol === "http" ? "HTTP proxy" : "SOCKS5 proxy"
    const at = `The ${kind} at ${this.proxy}`
    const target = `${this.host}:${this.port}`
    const said = this.detail !== undefined ? ` (${quote(this.detail, 160)})` : ""
    switch (this.reason) {
      case "Unreachable":
        return `Could not connect to the ${kind} at ${this.proxy}${
          this.code ? ` (${this.code})` : ""
        }, so nothing reached ${target}: check the proxy option's host and port and that the proxy is running.`
      case "AuthenticationFailed":
        return `${at} refused the credentials${said}: check the user name and password in the proxy URL (percent-encode @ : / and other reserved characters), or add them if the proxy requires them.`
      case "Refused":
        return `${at} refused to open a tunnel to ${target}${said}: its rules do not allow this destination; check the SMTP host and port, or ask the proxy's administrator to allow it.`
      case "TargetUnreachable":
        return `${at} could not connect to ${target}${said}: the SMTP server is down or not reachable from the proxy; check the host and port.`
      case "Timeout":
        // The detail of a timeout is the client's own words, not the proxy's.
        return `Timed out${
          this.timeout !== undefined ? ` after ${Duration.format(this.timeout)}` : ""
        } waiting for the ${kind} at ${this.proxy} to open a tunnel to ${target}${
          this.detail !== undefined ? `: ${this.detail}` : ""
        }. The proxy is slow or unreachable; raise options.timeout if it is known to be slow.`
      default:
        return `${at} broke off the ${this.protocol === "http" ? "HTTP CONNECT" : "SOCKS5"} handshake${said}${
          this.code ? ` (${this.code})` : ""
        }: check that the proxy URL's scheme matches the proxy (socks5:// or socks5h:// for SOCKS5, http:// for HTTP CONNECT).`
    }
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
    return isTransientReply(this.statusCode, this.enhancedStatusCode)
  }

  override get message(): string {
    const code = `${this.statusCode}${this.enhancedStatusCode ? ` ${this.enhancedStatusCode}` : ""}`
    const refused = (this.rejectedRecipients ?? []).map((r) => `${r.recipient}: ${r.statusCode}`).join(", ")
    const accepted = this.acceptedRecipients ?? []
    const about = accepted.length > 0
      ? `the message was aborted before DATA, so nothing was delivered (partialDelivery "abort"): ${
        this.rejectedRecipients?.length ?? 0
      } of ${accepted.length + (this.rejectedRecipients?.length ?? 0)} recipients refused (${refused}), ${
        // A long list stays in `acceptedRecipients`; the message names a few.
        accepted.length > 5
          ? `${accepted.slice(0, 5).join(", ")} and ${accepted.length - 5} more`
          : accepted.join(", ")} accepted; the first refusal was`
      : this.rejectedRecipients !== undefined && this.rejectedRecipients.length > 0
      ? `every recipient was rejected (${refused})`
      : this.recipient !== undefined
      ? `${this.command} for ${this.recipient} was rejected`
      : `${this.command} was rejected`
    const hint = this.isTransient ? "a temporary failure: retry later" : "a permanent failure: do not retry unchanged"
    return `${about}: ${code} ${quote(this.serverMessage, 200)} (${hint}).`
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
    switch (this.reason) {
      case "StartTlsInjection":
        return `The server sent data after its STARTTLS reply and before the TLS handshake, which is the STARTTLS response-injection attack; the connection was closed. ${this.detail}`
      case "ReplyTooLong":
        return `The server's reply exceeded the client's limits: ${this.detail}. The server is broken or hostile.`
      default:
        return `The server broke the SMTP protocol: ${this.detail}.`
    }
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
    return this.statusCode !== undefined && isTransientReply(this.statusCode, this.enhancedStatusCode)
  }

  override get message(): string {
    switch (this.reason) {
      case "NotOffered":
        return "Credentials are configured but the server offers no AUTH: check the port (submission is usually 587) and that TLS is on, since many servers offer AUTH only after STARTTLS."
      case "TokenUnavailable":
        return "The OAuth2 token provider failed, so no token could be offered: check its credentials and the identity provider."
      case "ServerUnverified":
        return `The server could not prove it knows the password during AUTH ${this.mechanism ?? ""} (${
          this.serverMessage ?? "no proof"
        }), so the session was not used: the server is not the one the password belongs to, or it stores another password for this user.`
      case "MechanismFailed":
        return `AUTH ${this.mechanism ?? ""} could not be completed: ${
          this.serverMessage ?? "the server broke the mechanism"
        }. Name another mechanism in auth.mechanism if the server offers one.`
      case "NoCommonMechanism":
        return `The server offers AUTH ${(this.offered ?? []).join(" ")}, none of which this client can use${
          this.mechanism ? ` (asked for ${this.mechanism})` : ""
        }.`
      default:
        return `The server rejected AUTH ${this.mechanism ?? ""}: ${this.statusCode ?? ""}${
          this.enhancedStatusCode ? ` ${this.enhancedStatusCode}` : ""
        } ${quote(this.serverMessage ?? "", 200)}. Check the user name and password (or token and its scopes).`
    }
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
    const waited = `Timed out after ${Duration.format(this.timeout)} waiting for ${this.operation}${
      this.host !== undefined && this.port !== undefined ? ` from ${this.host}:${this.port}` : ""
    }`
    const slow = "the server is slow or unreachable; raise options.timeout if it is known to be slow."
    // A port that speaks TLS from the first byte waits for the client's handshake and
    // never greets in plaintext: the likeliest cause of a silent server, so it comes first.
    if (this.security !== undefined && this.security !== "tls") {
      return `${waited} in plaintext (security "${this.security}"). A port that speaks TLS from the first byte ` +
        `(implicit TLS, usually 465) never greets in plaintext: if ${
          this.port === undefined ? "this" : this.port
        } is such a port, set security: "tls". Otherwise ${slow}`
    }
    return `${waited}: ${slow}`
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
    return `Invalid ${this.field}: ${this.reason}. ${
      this.foundWhileStreaming === true
        ? "The message was abandoned without its end: the part streamed before this point may have reached the server, never the final dot, so nothing is delivered."
        : "Nothing was sent."
    }`
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
    return `The message${
      this.messageId !== undefined ? ` ${this.messageId}` : ""
    } may have been delivered: its end was sent, then ${this.cause.message.charAt(0).toLowerCase()}${
      this.cause.message.slice(1)
    } Resending could deliver it twice; check with the recipients or the server's logs before sending again.`
  }
}

/**
 * RFC 5321 §4.2.1: 4yz is transient. RFC 3463: the enhanced code's class
 * refines it, and a class-5 code marks the failure permanent.
 *
 * @since 0.1.0
 * @category utils
 */
export const isTransientReply = (statusCode: number, enhancedStatusCode?: string | undefined): boolean =>
  statusCode >= 400 && statusCode < 500 && !(enhancedStatusCode?.startsWith("5.") ?? false)

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
export const isSmtpError = (u: unknown): u is SmtpError => Predicate.hasProperty(u, TypeId)

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
export const describeValue: (text: string, max?: number) => string = quote
