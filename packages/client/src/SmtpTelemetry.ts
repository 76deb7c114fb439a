/**
 * The attributes of MailKit's documented metrics, computed from an event's
 * facts and its outcome. Pure functions, shared by every backend: the
 * protocol knows nothing of attribute names, and no backend decides a presence
 * rule on its own.
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
 * Attributes of the client instruments for one event. `network.peer.address`
 * is present only when a connection was made (the spec's "When available").
 *
 * @since 0.1.0
 * @category attributes
 */
export const clientAttributes = (event: ClientFacts & { readonly outcome: Outcome }): ClientAttributes => ({
  ...(event.peerAddress !== undefined && event.peerAddress !== "" ?
    { "network.peer.address": event.peerAddress } :
    {}),
  "server.address": event.serverAddress,
  "server.port": event.serverPort,
  "url.scheme": event.scheme,
  ...outcomeAttributes(event.outcome)
})
