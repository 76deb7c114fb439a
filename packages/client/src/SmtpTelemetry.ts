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
import * as internal from "./internal/telemetryAttributes.js"
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
export const cancelled: typeof internal.cancelled = internal.cancelled

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
export const outcomeAttributes: (outcome: Outcome) => ErrorAttributes = internal.outcomeAttributes

/**
 * The `socket.connect.result` of an outcome.
 *
 * @since 0.1.0
 * @category attributes
 */
export const socketConnectResult: (outcome: Outcome) => SocketConnectResult = internal.socketConnectResult

/**
 * Attributes of both socket instruments for one connect attempt.
 *
 * @since 0.1.0
 * @category attributes
 */
export const socketConnectAttributes: (
  event: Pick<SocketConnectEvent, "serverAddress" | "serverPort" | "peerAddress" | "outcome">
) => SocketConnectAttributes = internal.socketConnectAttributes

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
export const serverAttributes: (
  facts: Pick<ClientFacts, "scheme" | "serverAddress" | "serverPort">
) => ServerAttributes = internal.serverAttributes

/**
 * `network.peer.address` when a connection was made (the spec's "When
 * available"), else nothing.
 *
 * @since 0.2.0
 * @category attributes
 */
export const peerAttributes: (
  peerAddress: string | undefined
) => { readonly "network.peer.address"?: string } = internal.peerAttributes

/**
 * Attributes of the client instruments for one event. `network.peer.address`
 * is present only when a connection was made (the spec's "When available").
 *
 * @since 0.1.0
 * @category attributes
 */
export const clientAttributes: (event: ClientFacts & { readonly outcome: Outcome }) => ClientAttributes =
  internal.clientAttributes

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
 * The shipped profile's `error.type` of an outcome, in MailKit's order of
 * precedence: `cancelled` for interruption; a socket error's name
 * (`connection_refused`, ...); on the client instruments only,
 * `secure_connection_error`, `protocol_error`, the status code (`"550"`) or
 * `command_error`; otherwise the error's type name. Absent on success.
 *
 * @since 0.2.0
 * @category attributes
 */
export const shippedErrorType: (outcome: Outcome, instruments: "socket" | "client") => string | undefined =
  internal.shippedErrorType

/**
 * Attributes of the shipped profile's socket instruments for one connect
 * attempt.
 *
 * @since 0.2.0
 * @category attributes
 */
export const shippedSocketConnectAttributes: (
  event: Pick<SocketConnectEvent, "serverAddress" | "serverPort" | "peerAddress" | "outcome">
) => ShippedSocketConnectAttributes = internal.shippedSocketConnectAttributes

/**
 * Attributes of the shipped profile's `connection.duration` for one
 * connection's end.
 *
 * @since 0.2.0
 * @category attributes
 */
export const shippedConnectionAttributes: (
  event: ClientFacts & { readonly outcome: Outcome }
) => ShippedConnectionAttributes = internal.shippedConnectionAttributes

/**
 * Attributes of the shipped profile's `operation.count` / `.duration` for one
 * operation.
 *
 * @since 0.2.0
 * @category attributes
 */
export const shippedOperationAttributes: (
  operation: Operation,
  event: ClientFacts & { readonly outcome: Outcome }
) => ShippedOperationAttributes = internal.shippedOperationAttributes
