import type { SmtpError } from "../SmtpError.js"
import type { ClientFacts, Outcome, SocketConnectEvent } from "../SmtpMetrics.js"
import type {
  ClientAttributes,
  ErrorAttributes,
  Operation,
  ServerAttributes,
  ShippedConnectionAttributes,
  ShippedOperationAttributes,
  ShippedSocketConnectAttributes,
  SocketConnectAttributes,
  SocketConnectResult
} from "../SmtpTelemetry.js"
import * as socketErrorCode from "./socketErrorCode.js"

/**
 * How `SmtpTelemetry`'s attributes are computed from an event's facts and
 * its outcome, for both profiles: the presence rules, and the shipped
 * profile's `error.type` in MailKit's order of precedence.
 */

/** @internal */
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

/** @internal */
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

/** @internal */
export const socketConnectResult = (outcome: Outcome): SocketConnectResult =>
  outcome._tag === "Success" ? "succeeded" : outcome._tag === "Failure" ? "failed" : "cancelled"

/** @internal */
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

/** @internal */
export const serverAttributes = (
  facts: Pick<ClientFacts, "scheme" | "serverAddress" | "serverPort">
): ServerAttributes => ({
  "url.scheme": facts.scheme,
  "server.address": facts.serverAddress,
  "server.port": facts.serverPort
})

/** @internal */
export const peerAttributes = (
  peerAddress: string | undefined
): { readonly "network.peer.address"?: string } =>
  peerAddress !== undefined && peerAddress !== "" ? { "network.peer.address": peerAddress } : {}

/** @internal */
export const clientAttributes = (event: ClientFacts & { readonly outcome: Outcome }): ClientAttributes => ({
  ...peerAttributes(event.peerAddress),
  ...serverAttributes(event),
  ...outcomeAttributes(event.outcome)
})

// ---------------------------------------------------------------------------
// The shipped profile (mailkit-shipped.md)
// ---------------------------------------------------------------------------

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

/** @internal */
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

/** @internal */
export const shippedSocketConnectAttributes = (
  event: Pick<SocketConnectEvent, "serverAddress" | "serverPort" | "peerAddress" | "outcome">
): ShippedSocketConnectAttributes => ({
  "network.peer.address": event.peerAddress,
  "server.address": event.serverAddress,
  "server.port": event.serverPort,
  ...shippedErrorAttributes(event.outcome, "socket")
})

/** @internal */
export const shippedConnectionAttributes = (
  event: ClientFacts & { readonly outcome: Outcome }
): ShippedConnectionAttributes => ({
  ...serverAttributes(event),
  ...shippedErrorAttributes(event.outcome, "client")
})

/** @internal */
export const shippedOperationAttributes = (
  operation: Operation,
  event: ClientFacts & { readonly outcome: Outcome }
): ShippedOperationAttributes => ({
  ...serverAttributes(event),
  "network.operation": operation,
  ...shippedErrorAttributes(event.outcome, "client")
})
