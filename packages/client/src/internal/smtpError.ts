import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import type {
  AuthenticationError,
  DeliveryUnknownError,
  InvalidInputError,
  ProxyError,
  SmtpCommandError,
  SmtpError,
  SmtpProtocolError,
  SocketError,
  TimeoutError,
  TlsError
} from "../SmtpError.js"
import * as socketErrorCode from "./socketErrorCode.js"

/**
 * What the public error classes of `SmtpError` say and decide: the message a
 * person acts on for each, which failures are worth retrying, and which
 * replies ask for fewer messages. The classes declare their fields and
 * delegate here.
 */

/** @internal */
export const TypeId: unique symbol = Symbol.for("@effect-smtp/client/SmtpError")

/** @internal */
export const isSmtpError = (u: unknown): u is SmtpError => Predicate.hasProperty(u, TypeId)

/**
 * Renders untrusted text for an error message: escaped, and short.
 *
 * @internal
 */
export const quote = (text: string, max = 120): string => {
  const shown = text.length > max ? `${text.slice(0, max)}…` : text
  return JSON.stringify(shown)
}

/**
 * The .NET `SocketError` number of an OS code, the value of `socket.error`.
 *
 * @internal
 */
export const socketErrorOf = (code: string | undefined): number | undefined =>
  code === undefined ? undefined : socketErrorCode.fromNodeCode(code)

/**
 * A name that does not resolve at all will not resolve on a retry either.
 *
 * @internal
 */
export const unresolvable = (code: string | undefined): boolean =>
  code === "ENOTFOUND" || code === "EAI_NONAME" || code === "EAI_FAIL"

/**
 * RFC 5321 §4.2.1: 4yz is transient. RFC 3463: the enhanced code's class
 * refines it, and a class-5 code marks the failure permanent.
 *
 * @internal
 */
export const isTransientReply = (statusCode: number, enhancedStatusCode?: string | undefined): boolean =>
  statusCode >= 400 && statusCode < 500 && !(enhancedStatusCode?.startsWith("5.") ?? false)

const throttleText = /too many|rate|limit|throttl|exceeded|slow down/i

/**
 * A reply that says the server wants fewer messages from us, not just this one refused.
 *
 * @internal
 */
export const isThrottling = (error: unknown): boolean =>
  isSmtpError(error) &&
  (error._tag === "SmtpCommandError" || error._tag === "AuthenticationError") &&
  [421, 432, 450, 451, 454].includes(error.statusCode ?? 0) &&
  throttleText.test(error.serverMessage ?? "")

/** @internal */
export const socketMessage = (self: SocketError): string => {
  const target = self.proxy !== undefined
    ? `${self.host}:${self.port} (through the proxy ${self.proxy})`
    : `${self.host}:${self.port}${self.address !== undefined && self.address !== self.host ? ` (${self.address})` : ""}`
  switch (self.operation) {
    case "lookup":
      return `Could not resolve ${quote(self.host)}${self.code ? ` (${self.code})` : ""}: check the host name and DNS.`
    case "connect":
      return `Could not connect to ${target}${
        self.code ? ` (${self.code})` : ""
      }: check the host, the port and that the server is listening and reachable.`
    case "closed":
      return `The server at ${target} closed the connection unexpectedly.`
    default:
      return `The connection to ${target} failed while ${self.operation === "read" ? "reading" : "writing"}${
        self.code ? ` (${self.code})` : ""
      }.`
  }
}

/** @internal */
export const tlsMessage = (self: TlsError): string => {
  const target = `${self.host}:${self.port}`
  switch (self.reason) {
    case "CertificateRejected":
      return `The certificate of ${target} was rejected${
        self.code ? ` (${self.code})` : ""
      }: check that the host name matches the certificate, or pass the issuing CA in options.tls.ca.`
    case "StartTlsUnavailable":
      // The user may have set no security at all: name the reason that holds for the mode in force.
      return self.security === "starttls-if-available"
        ? `${target} does not offer STARTTLS, and credentials (auth) are never sent in plaintext: nothing was sent (security "starttls-if-available", the default off port 465). Use security "tls" if the server speaks implicit TLS (usually port 465); only on a network you trust (a local relay), security "none" sends the credentials in plaintext.`
        : `${target} does not offer STARTTLS, and security "starttls" requires it: nothing was sent in plaintext. Use security "tls" on port 465 if the server supports implicit TLS.`
    case "RequireTlsWithoutTls":
      return `The message asks for REQUIRETLS (RFC 8689), and the session with ${target} is not encrypted: nothing was sent. Use security "tls" or "starttls".`
    case "RequireTlsNotOffered":
      return `The message asks for REQUIRETLS (RFC 8689), and ${target} does not offer it: nothing was sent. Send it through a server that offers REQUIRETLS, or without requireTls.`
    case "RequireTlsUnverified":
      return `The message asks for REQUIRETLS (RFC 8689), and the certificate of ${target} was not verified${
        self.code ? ` (${self.code})` : ""
      }: RFC 8689 §4.2.1 requires a verified certificate before REQUIRETLS is honoured, so nothing was sent. Keep certificate verification on (no tls.rejectUnauthorized: false), make tls.servername match the certificate, or pass the issuing CA in options.tls.ca.`
    case "ServerInternalError":
      return `${target} aborted the TLS handshake with an internal-error alert${
        self.code ? ` (${self.code})` : ""
      }: the port speaks TLS, but the server failed on its side (its certificate, private key or TLS library; ` +
        "OpenSMTPD 6.8 built with OpenSSL 3 does this for every key). No client option fixes this: " +
        "the server's operator must check its TLS setup and log."
    default:
      // OpenSSL's words for plaintext where a TLS record belongs: a plaintext port (its 220 greeting) reached with "tls".
      if (self.code === "ERR_SSL_WRONG_VERSION_NUMBER" || self.code === "ERR_SSL_PACKET_LENGTH_TOO_LONG") {
        return `The TLS handshake with ${target} failed (${self.code}): the server answered in plaintext, not TLS. Check that the port speaks TLS for this security mode: a port that greets in plaintext (usually 587 or 25) needs security "starttls" (or the default), not "tls".`
      }
      return `The TLS handshake with ${target} failed${
        self.code ? ` (${self.code})` : ""
      }: check that the port speaks TLS for this security mode ("tls" for implicit TLS, usually 465; "starttls", usually 587).`
  }
}

/** @internal */
export const proxyRetryable = (self: ProxyError): boolean => {
  switch (self.reason) {
    case "Unreachable":
      return !unresolvable(self.code)
    case "TargetUnreachable":
    case "Timeout":
      return true
    case "HandshakeFailed":
      // A reset mid-handshake is the network's doing; garbage is not.
      return self.code !== undefined
    default:
      return false
  }
}

/** @internal */
export const proxyMessage = (self: ProxyError): string => {
  const kind = self.protocol === "http" ? "HTTP proxy" : "SOCKS5 proxy"
  const at = `The ${kind} at ${self.proxy}`
  const target = `${self.host}:${self.port}`
  const said = self.detail !== undefined ? ` (${quote(self.detail, 160)})` : ""
  switch (self.reason) {
    case "Unreachable":
      return `Could not connect to the ${kind} at ${self.proxy}${
        self.code ? ` (${self.code})` : ""
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
        self.timeout !== undefined ? ` after ${Duration.format(self.timeout)}` : ""
      } waiting for the ${kind} at ${self.proxy} to open a tunnel to ${target}${
        self.detail !== undefined ? `: ${self.detail}` : ""
      }. The proxy is slow or unreachable; raise options.timeout if it is known to be slow.`
    default:
      return `${at} broke off the ${self.protocol === "http" ? "HTTP CONNECT" : "SOCKS5"} handshake${said}${
        self.code ? ` (${self.code})` : ""
      }: check that the proxy URL's scheme matches the proxy (socks5:// or socks5h:// for SOCKS5, http:// for HTTP CONNECT).`
  }
}

/** @internal */
export const commandMessage = (self: SmtpCommandError): string => {
  const code = `${self.statusCode}${self.enhancedStatusCode ? ` ${self.enhancedStatusCode}` : ""}`
  const refused = (self.rejectedRecipients ?? []).map((r) => `${r.recipient}: ${r.statusCode}`).join(", ")
  const accepted = self.acceptedRecipients ?? []
  const about = accepted.length > 0
    ? `the message was aborted before DATA, so nothing was delivered (partialDelivery "abort"): ${
      self.rejectedRecipients?.length ?? 0
    } of ${accepted.length + (self.rejectedRecipients?.length ?? 0)} recipients refused (${refused}), ${
      // A long list stays in `acceptedRecipients`; the message names a few.
      accepted.length > 5
        ? `${accepted.slice(0, 5).join(", ")} and ${accepted.length - 5} more`
        : accepted.join(", ")} accepted; the first refusal was`
    : self.rejectedRecipients !== undefined && self.rejectedRecipients.length > 0
    ? `every recipient was rejected (${refused})`
    : self.recipient !== undefined
    ? `${self.command} for ${self.recipient} was rejected`
    : `${self.command} was rejected`
  const hint = self.isTransient ? "a temporary failure: retry later" : "a permanent failure: do not retry unchanged"
  return `${about}: ${code} ${quote(self.serverMessage, 200)} (${hint}).`
}

/** @internal */
export const protocolMessage = (self: SmtpProtocolError): string => {
  switch (self.reason) {
    case "StartTlsInjection":
      return `The server sent data after its STARTTLS reply and before the TLS handshake, which is the STARTTLS response-injection attack; the connection was closed. ${self.detail}`
    case "ReplyTooLong":
      return `The server's reply exceeded the client's limits: ${self.detail}. The server is broken or hostile.`
    default:
      return `The server broke the SMTP protocol: ${self.detail}.`
  }
}

/** @internal */
export const authenticationMessage = (self: AuthenticationError): string => {
  switch (self.reason) {
    case "NotOffered":
      return "Credentials are configured but the server offers no AUTH: check the port (submission is usually 587) and that TLS is on, since many servers offer AUTH only after STARTTLS."
    case "TokenUnavailable":
      return "The OAuth2 token provider failed, so no token could be offered: check its credentials and the identity provider."
    case "ServerUnverified":
      return `The server could not prove it knows the password during AUTH ${self.mechanism ?? ""} (${
        self.serverMessage ?? "no proof"
      }), so the session was not used: the server is not the one the password belongs to, or it stores another password for this user.`
    case "MechanismFailed":
      return `AUTH ${self.mechanism ?? ""} could not be completed: ${
        self.serverMessage ?? "the server broke the mechanism"
      }. Name another mechanism in auth.mechanism if the server offers one.`
    case "NoCommonMechanism":
      return `The server offers AUTH ${(self.offered ?? []).join(" ")}, none of which this client can use${
        self.mechanism ? ` (asked for ${self.mechanism})` : ""
      }.`
    default:
      return `The server rejected AUTH ${self.mechanism ?? ""}: ${self.statusCode ?? ""}${
        self.enhancedStatusCode ? ` ${self.enhancedStatusCode}` : ""
      } ${quote(self.serverMessage ?? "", 200)}. Check the user name and password (or token and its scopes).`
  }
}

/** @internal */
export const timeoutMessage = (self: TimeoutError): string => {
  const waited = `Timed out after ${Duration.format(self.timeout)} waiting for ${self.operation}${
    self.host !== undefined && self.port !== undefined ? ` from ${self.host}:${self.port}` : ""
  }`
  const slow = "the server is slow or unreachable; raise options.timeout if it is known to be slow."
  // A port that speaks TLS from the first byte waits for the client's handshake and
  // never greets in plaintext: the likeliest cause of a silent server, so it comes first.
  if (self.security !== undefined && self.security !== "tls") {
    return `${waited} in plaintext (security "${self.security}"). A port that speaks TLS from the first byte ` +
      `(implicit TLS, usually 465) never greets in plaintext: if ${
        self.port === undefined ? "this" : self.port
      } is such a port, set security: "tls". Otherwise ${slow}`
  }
  return `${waited}: ${slow}`
}

/** @internal */
export const invalidInputMessage = (self: InvalidInputError): string => {
  return `Invalid ${self.field}: ${self.reason}. ${
    self.foundWhileStreaming === true
      ? "The message was abandoned without its end: the part streamed before this point may have reached the server, never the final dot, so nothing is delivered."
      : "Nothing was sent."
  }`
}

/** @internal */
export const deliveryUnknownMessage = (self: DeliveryUnknownError): string => {
  return `The message${
    self.messageId !== undefined ? ` ${self.messageId}` : ""
  } may have been delivered: its end was sent, then ${self.cause.message.charAt(0).toLowerCase()}${
    self.cause.message.slice(1)
  } Resending could deliver it twice; check with the recipients or the server's logs before sending again.`
}
