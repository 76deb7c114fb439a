/**
 * The attributes of both telemetry profiles, computed from an event's facts
 * and its outcome: MailKit's documented metrics (the default profile) and
 * what MailKit 4.7 to 4.17 ship (the "shipped" profile). Pure functions,
 * shared by every backend and by the client's spans: the protocol knows
 * nothing of attribute names, and no backend decides a presence rule on its
 * own. Every attribute name is written here once.
 *
 * The attribute sets are type aliases, not interfaces, so that they are
 * assignable to a plain record (`Attributes`, OpenTelemetry's `Attributes`).
 *
 * Presence follows the spec: an attribute that does not apply is absent from
 * the returned object (never `undefined`, never `""`), and the int attributes
 * (`server.port`, `smtp.status_code`, `socket.error`) are numbers.
 *
 * @since 0.1.0
 */
import * as socketErrorCode from "./internal/socketErrorCode.js"
import type { SmtpError } from "./SmtpError.js"
import type { ClientFacts, Outcome, SocketConnectEvent } from "./SmtpMetrics.js"

/**
 * The error attributes: all absent on success.
 *
 * - `error.type`: the typed error's `_tag`, or `"cancelled"` for interruption.
 * - `smtp.status_code`: the server's reply code, when the error carries one.
 * - `socket.error`: the .NET `SocketError` number of the OS code, when the
 *   error came from the socket layer with a code.
 *
 * @since 0.1.0
 * @category models
 */
export type ErrorAttributes = {
  readonly "error.type"?: string
  readonly "smtp.status_code"?: number
  readonly "socket.error"?: number
}

/**
 * @since 0.1.0
 * @category models
 */
export type SocketConnectResult = "succeeded" | "failed" | "cancelled"

/**
 * Attributes of `mailkit.net.socket.connect.count` / `.duration`. The socket
 * table has no `smtp.status_code`, so it never appears here.
 *
 * @since 0.1.0
 * @category models
 */
export type SocketConnectAttributes = {
  readonly "socket.connect.result": SocketConnectResult
  readonly "network.peer.address": string
  readonly "server.address": string
  readonly "server.port": number
  readonly "error.type"?: string
  readonly "socket.error"?: number
}

/**
 * Attributes of the five `mailkit.net.smtp.client.*` instruments.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientAttributes = ErrorAttributes & {
  readonly "network.peer.address"?: string
  readonly "server.address": string
  readonly "server.port": number
  readonly "url.scheme": "smtp" | "smtps"
}

/**
 * Any attribute set this module builds, as a plain record (what a Meter API or
 * a tag list consumes).
 *
 * @since 0.1.0
 * @category models
 */
export type Attributes = Readonly<Record<string, string | number>>

/**
 * The value of `error.type` for an interrupted operation.
 *
 * @since 0.1.0
 * @category constants
 */
export const cancelled = "cancelled"

// A reply code or an errno that is not an int would break the "int" type of
// the attribute; such a value is not a code the server or the OS sent.
const isInt = (n: number | undefined): n is number => n !== undefined && Number.isSafeInteger(n)

const statusCodeOf = (error: SmtpError): number | undefined => {
  switch (error._tag) {
    case "DeliveryUnknownError":
      return statusCodeOf(error.cause)
    case "SmtpCommandError":
    case "AuthenticationError":
      return isInt(error.statusCode) ? error.statusCode : undefined
    default:
      return undefined
  }
}

// Only the socket layer sees OS codes (a ProxyError carries one when the
// proxy could not be reached or dropped the connection). TlsError carries a TLS
// library code and TimeoutError comes from the client's own timer: neither is
// a socket error.
const socketErrorOf = (error: SmtpError): number | undefined => {
  if (error._tag === "DeliveryUnknownError") return socketErrorOf(error.cause)
  if (error._tag !== "SocketError" && error._tag !== "ProxyError") return undefined
  const value = error.socketError
  return isInt(value) ? value : undefined
}

/**
 * The error attributes of an outcome: `{}` for success; `error.type` for every
 * failure and interruption; `smtp.status_code` iff the error carries a server
 * reply code (`SmtpCommandError`, `AuthenticationError` with a `statusCode`);
 * `socket.error` iff it carries an OS code (`SocketError` or `ProxyError`
 * with a `code`, mapped per socket-errors.md, unknown codes to -1).
 *
 * @since 0.1.0
 * @category attributes
 */
export const outcomeAttributes = (outcome: Outcome): ErrorAttributes => {
  switch (outcome._tag) {
    case "Success":
      return {}
    case "Interrupted":
      return { "error.type": cancelled }
    case "Failure": {
      const error = outcome.error
      const statusCode = statusCodeOf(error)
      const socketError = socketErrorOf(error)
      return {
        "error.type": error._tag,
        ...(statusCode !== undefined ? { "smtp.status_code": statusCode } : {}),
        ...(socketError !== undefined ? { "socket.error": socketError } : {})
      }
    }
  }
}

/**
 * The `socket.connect.result` of an outcome.
 *
 * @since 0.1.0
 * @category attributes
 */
export const socketConnectResult = (outcome: Outcome): SocketConnectResult =>
  outcome._tag === "Success" ? "succeeded" : outcome._tag === "Failure" ? "failed" : "cancelled"

/**
 * Attributes of both socket instruments for one connect attempt.
 *
 * @since 0.1.0
 * @category attributes
 */
export const socketConnectAttributes = (
  event: Pick<SocketConnectEvent, "serverAddress" | "serverPort" | "peerAddress" | "outcome">
): SocketConnectAttributes => {
  const errors = outcomeAttributes(event.outcome)
  return {
    "socket.connect.result": socketConnectResult(event.outcome),
    "network.peer.address": event.peerAddress,
    "server.address": event.serverAddress,
    "server.port": event.serverPort,
    ...(errors["error.type"] !== undefined ? { "error.type": errors["error.type"] } : {}),
    ...(errors["socket.error"] !== undefined ? { "socket.error": errors["socket.error"] } : {})
  }
}

/**
 * The attributes that name the server, on every client instrument and span
 * of both profiles.
 *
 * @since 0.2.0
 * @category models
 */
export type ServerAttributes = {
  readonly "url.scheme": "smtp" | "smtps"
  readonly "server.address": string
  readonly "server.port": number
}

/**
 * `url.scheme`, `server.address`, `server.port` of the facts.
 *
 * @since 0.2.0
 * @category attributes
 */
export const serverAttributes = (
  facts: Pick<ClientFacts, "scheme" | "serverAddress" | "serverPort">
): ServerAttributes => ({
  "url.scheme": facts.scheme,
  "server.address": facts.serverAddress,
  "server.port": facts.serverPort
})

/**
 * `network.peer.address` when a connection was made (the spec's "When
 * available"), else nothing.
 *
 * @since 0.2.0
 * @category attributes
 */
export const peerAttributes = (
  peerAddress: string | undefined
): { readonly "network.peer.address"?: string } =>
  peerAddress !== undefined && peerAddress !== "" ? { "network.peer.address": peerAddress } : {}

/**
 * Attributes of the client instruments for one event. `network.peer.address`
 * is present only when a connection was made (the spec's "When available").
 *
 * @since 0.1.0
 * @category attributes
 */
export const clientAttributes = (event: ClientFacts & { readonly outcome: Outcome }): ClientAttributes => ({
  ...peerAttributes(event.peerAddress),
  ...serverAttributes(event),
  ...outcomeAttributes(event.outcome)
})

// ---------------------------------------------------------------------------
// The shipped profile (mailkit-shipped.md)
// ---------------------------------------------------------------------------

/**
 * The operations of the shipped profile's `network.operation`.
 *
 * @since 0.2.0
 * @category models
 */
export type Operation = "connect" | "authenticate" | "send"

/**
 * Attributes of the shipped profile's socket instruments: no
 * `socket.connect.result`, no `socket.error`.
 *
 * @since 0.2.0
 * @category models
 */
export type ShippedSocketConnectAttributes = {
  readonly "network.peer.address": string
  readonly "server.address": string
  readonly "server.port": number
  readonly "error.type"?: string
}

/**
 * Attributes of `mailkit.net.smtp.client.connection.duration` in the shipped
 * profile: the server, and `error.type` when the connection ended
 * involuntarily. No `network.peer.address`, no `network.operation`.
 *
 * @since 0.2.0
 * @category models
 */
export type ShippedConnectionAttributes = ServerAttributes & {
  readonly "error.type"?: string
}

/**
 * Attributes of `mailkit.net.smtp.client.operation.count` / `.duration`.
 *
 * @since 0.2.0
 * @category models
 */
export type ShippedOperationAttributes = ShippedConnectionAttributes & {
  readonly "network.operation": Operation
}

/**
 * The eight SocketError values MailKit names in `error.type`, by their .NET
 * number (socket-errors.md); any other socket failure falls back to the
 * error's type name.
 */
const shippedSocketNames: Readonly<Record<number, string>> = {
  11001: "host_not_found",
  10065: "host_unreachable",
  10051: "network_unreachable",
  10053: "connection_aborted",
  10061: "connection_refused",
  10054: "connection_reset",
  10060: "timed_out",
  10024: "too_many_open_sockets"
}

/**
 * The socket name of an error, as MailKit finds a `SocketException` among an
 * exception's inner exceptions: a `SocketError`'s OS code (or a
 * `ProxyError`'s, from the connection to the proxy), the code of the
 * transport failure behind a `DeliveryUnknownError`, and the OS code a TLS
 * handshake failed with (a reset during the handshake is `connection_reset`
 * in MailKit too, whose handshake exception wraps the socket's).
 */
const socketNameOf = (error: SmtpError): string | undefined => {
  switch (error._tag) {
    case "DeliveryUnknownError":
      return socketNameOf(error.cause)
    case "SocketError":
    case "ProxyError":
    case "TlsError":
      return error.code === undefined ? undefined : shippedSocketNames[socketErrorCode.fromNodeCode(error.code)]
    default:
      return undefined
  }
}

/**
 * The client instruments' own names for what is not a socket failure:
 * `secure_connection_error` for a failed TLS handshake or certificate,
 * `protocol_error` for a malformed reply or an unexpected disconnect, the
 * reply's status code as a decimal string for a command failure, or
 * `command_error` for a command failure without a usable code.
 */
const clientNameOf = (error: SmtpError): string | undefined => {
  switch (error._tag) {
    case "DeliveryUnknownError":
      return clientNameOf(error.cause)
    case "TlsError":
      // STARTTLS not offered (MailKit throws NotSupportedException), and a
      // REQUIRETLS the session cannot honour, are no handshake.
      return error.reason === "StartTlsUnavailable" || error.reason === "RequireTlsWithoutTls" ||
          error.reason === "RequireTlsNotOffered" || error.reason === "RequireTlsUnverified"
        ? undefined
        : "secure_connection_error"
    case "SmtpProtocolError":
      return "protocol_error"
    case "SocketError":
      // A peer that closed without an OS error: MailKit's "unexpectedly disconnected".
      return error.operation === "closed" ? "protocol_error" : undefined
    case "SmtpCommandError":
      return isInt(error.statusCode) && error.statusCode >= 100 && error.statusCode <= 999
        ? String(error.statusCode)
        : "command_error"
    default:
      return undefined
  }
}

/**
 * The type name a failure falls back to: the error's `_tag`, or for a
 * `DeliveryUnknownError` that of the failure behind it (MailKit has no such
 * error; what it reports is the transport's or the reply's).
 */
const typeNameOf = (error: SmtpError): string => error._tag === "DeliveryUnknownError" ? error.cause._tag : error._tag

/**
 * The shipped profile's `error.type` of an outcome, in MailKit's order of
 * precedence: `cancelled` for interruption; a socket error's name
 * (`connection_refused`, ...); on the client instruments only,
 * `secure_connection_error`, `protocol_error`, the status code (`"550"`) or
 * `command_error`; otherwise the error's type name. Absent on success.
 *
 * @since 0.2.0
 * @category attributes
 */
export const shippedErrorType = (outcome: Outcome, instruments: "socket" | "client"): string | undefined => {
  switch (outcome._tag) {
    case "Success":
      return undefined
    case "Interrupted":
      return cancelled
    case "Failure": {
      const error = outcome.error
      return socketNameOf(error) ??
        (instruments === "client" ? clientNameOf(error) : undefined) ??
        typeNameOf(error)
    }
  }
}

const shippedErrorAttributes = (outcome: Outcome, instruments: "socket" | "client") => {
  const errorType = shippedErrorType(outcome, instruments)
  return errorType === undefined ? {} : { "error.type": errorType }
}

/**
 * Attributes of the shipped profile's socket instruments for one connect
 * attempt.
 *
 * @since 0.2.0
 * @category attributes
 */
export const shippedSocketConnectAttributes = (
  event: Pick<SocketConnectEvent, "serverAddress" | "serverPort" | "peerAddress" | "outcome">
): ShippedSocketConnectAttributes => ({
  "network.peer.address": event.peerAddress,
  "server.address": event.serverAddress,
  "server.port": event.serverPort,
  ...shippedErrorAttributes(event.outcome, "socket")
})

/**
 * Attributes of the shipped profile's `connection.duration` for one
 * connection's end.
 *
 * @since 0.2.0
 * @category attributes
 */
export const shippedConnectionAttributes = (
  event: ClientFacts & { readonly outcome: Outcome }
): ShippedConnectionAttributes => ({
  ...serverAttributes(event),
  ...shippedErrorAttributes(event.outcome, "client")
})

/**
 * Attributes of the shipped profile's `operation.count` / `.duration` for one
 * operation.
 *
 * @since 0.2.0
 * @category attributes
 */
export const shippedOperationAttributes = (
  operation: Operation,
  event: ClientFacts & { readonly outcome: Outcome }
): ShippedOperationAttributes => ({
  ...serverAttributes(event),
  "network.operation": operation,
  ...shippedErrorAttributes(event.outcome, "client")
})
