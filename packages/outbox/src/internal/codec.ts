import type { SmtpClient } from "@effect-smtp/client"
import { SmtpError } from "@effect-smtp/client"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import { AttemptCutError } from "../OutboxError.js"

/**
 * How outcomes are stored: a send's result and the typed errors as JSON,
 * read back as the same classes (with their `message` and `retryable`).
 * What an error wraps from the OS (`cause` of a socket or TLS error) is
 * not kept: its code is.
 */

const RecipientResult = Schema.Struct({
  recipient: Schema.String,
  statusCode: Schema.Number,
  enhancedStatusCode: Schema.optional(Schema.String),
  message: Schema.String
})

const SendResult = Schema.Struct({
  accepted: Schema.Array(Schema.String),
  rejected: Schema.Array(RecipientResult),
  recipients: Schema.Array(RecipientResult),
  response: Schema.String,
  statusCode: Schema.Number,
  enhancedStatusCode: Schema.optional(Schema.String),
  bytesSent: Schema.Number,
  queueId: Schema.optional(Schema.String),
  timings: Schema.Struct({ envelopeMs: Schema.Number, dataMs: Schema.Number }),
  deliveries: Schema.optional(Schema.Array(RecipientResult)),
  envelope: Schema.Struct({ from: Schema.String, to: Schema.Array(Schema.String) }),
  messageId: Schema.optional(Schema.String)
})

const SocketErrorJson = Schema.Struct({
  _tag: Schema.Literal("SocketError"),
  operation: Schema.Literals(["lookup", "connect", "read", "write", "closed"]),
  host: Schema.String,
  port: Schema.Number,
  address: Schema.optional(Schema.String),
  proxy: Schema.optional(Schema.String),
  code: Schema.optional(Schema.String)
})
const SecurityJson = Schema.Literals(["tls", "starttls", "starttls-if-available", "none"])
const TimeoutErrorJson = Schema.Struct({
  _tag: Schema.Literal("TimeoutError"),
  operation: Schema.String,
  timeoutMillis: Schema.Number,
  // Where a greeting was awaited: its message names the likely cause (optional: rows written before).
  host: Schema.optional(Schema.String),
  port: Schema.optional(Schema.Number),
  security: Schema.optional(SecurityJson)
})
const ProtocolErrorJson = Schema.Struct({
  _tag: Schema.Literal("SmtpProtocolError"),
  reason: Schema.Literals(["MalformedReply", "ReplyTooLong", "UnexpectedReply", "StartTlsInjection"]),
  detail: Schema.String
})
const UnknownCauseJson = Schema.Union([SocketErrorJson, TimeoutErrorJson, ProtocolErrorJson])

const ErrorJson = Schema.Union([
  SocketErrorJson,
  TimeoutErrorJson,
  ProtocolErrorJson,
  Schema.Struct({
    _tag: Schema.Literal("TlsError"),
    reason: Schema.Literals([
      "HandshakeFailed",
      "CertificateRejected",
      "StartTlsUnavailable",
      "ServerInternalError",
      "RequireTlsWithoutTls",
      "RequireTlsNotOffered",
      "RequireTlsUnverified"
    ]),
    host: Schema.String,
    port: Schema.Number,
    security: Schema.optional(SecurityJson),
    code: Schema.optional(Schema.String)
  }),
  Schema.Struct({
    _tag: Schema.Literal("SmtpCommandError"),
    command: Schema.String,
    statusCode: Schema.Number,
    enhancedStatusCode: Schema.optional(Schema.String),
    serverMessage: Schema.String,
    recipient: Schema.optional(Schema.String),
    rejectedRecipients: Schema.optional(Schema.Array(RecipientResult)),
    acceptedRecipients: Schema.optional(Schema.Array(Schema.String))
  }),
  Schema.Struct({
    _tag: Schema.Literal("AuthenticationError"),
    reason: Schema.Literals([
      "Rejected",
      "NoCommonMechanism",
      "NotOffered",
      "TokenUnavailable",
      "ServerUnverified",
      "MechanismFailed"
    ]),
    mechanism: Schema.optional(Schema.String),
    statusCode: Schema.optional(Schema.Number),
    enhancedStatusCode: Schema.optional(Schema.String),
    serverMessage: Schema.optional(Schema.String),
    offered: Schema.optional(Schema.Array(Schema.String))
  }),
  Schema.Struct({
    _tag: Schema.Literal("ProxyError"),
    reason: Schema.Literals([
      "Unreachable",
      "AuthenticationFailed",
      "Refused",
      "TargetUnreachable",
      "HandshakeFailed",
      "Timeout"
    ]),
    protocol: Schema.Literals(["socks5", "socks5h", "http"]),
    proxy: Schema.String,
    host: Schema.String,
    port: Schema.Number,
    code: Schema.optional(Schema.String),
    reply: Schema.optional(Schema.Number),
    detail: Schema.optional(Schema.String),
    timeoutMillis: Schema.optional(Schema.Number)
  }),
  Schema.Struct({
    _tag: Schema.Literal("InvalidInputError"),
    field: Schema.String,
    reason: Schema.String,
    foundWhileStreaming: Schema.optional(Schema.Boolean)
  }),
  Schema.Struct({
    _tag: Schema.Literal("DeliveryUnknownError"),
    cause: UnknownCauseJson,
    messageId: Schema.optional(Schema.String),
    recipients: Schema.Array(Schema.String)
  }),
  Schema.Struct({
    _tag: Schema.Literal("AttemptCutError"),
    attempt: Schema.Number,
    messageId: Schema.optional(Schema.String),
    recipients: Schema.Array(Schema.String)
  })
])
type ErrorJson = typeof ErrorJson.Type

/** What a message can end with, or be retried after. */
export type StoredError = SmtpError.SmtpError | AttemptCutError

const toJson = (error: StoredError): ErrorJson => {
  switch (error._tag) {
    case "SocketError":
      return {
        _tag: error._tag,
        operation: error.operation,
        host: error.host,
        port: error.port,
        address: error.address,
        proxy: error.proxy,
        code: error.code
      }
    case "ProxyError":
      return {
        _tag: error._tag,
        reason: error.reason,
        protocol: error.protocol,
        proxy: error.proxy,
        host: error.host,
        port: error.port,
        code: error.code,
        reply: error.reply,
        detail: error.detail,
        timeoutMillis: error.timeout === undefined ? undefined : Duration.toMillis(error.timeout)
      }
    case "TimeoutError":
      return {
        _tag: error._tag,
        operation: error.operation,
        timeoutMillis: Duration.toMillis(error.timeout),
        host: error.host,
        port: error.port,
        security: error.security
      }
    case "SmtpProtocolError":
      return { _tag: error._tag, reason: error.reason, detail: error.detail }
    case "TlsError":
      return {
        _tag: error._tag,
        reason: error.reason,
        host: error.host,
        port: error.port,
        security: error.security,
        code: error.code
      }
    case "SmtpCommandError":
      return {
        _tag: error._tag,
        command: error.command,
        statusCode: error.statusCode,
        enhancedStatusCode: error.enhancedStatusCode,
        serverMessage: error.serverMessage,
        recipient: error.recipient,
        rejectedRecipients: error.rejectedRecipients,
        acceptedRecipients: error.acceptedRecipients
      }
    case "AuthenticationError":
      return {
        _tag: error._tag,
        reason: error.reason,
        mechanism: error.mechanism,
        statusCode: error.statusCode,
        enhancedStatusCode: error.enhancedStatusCode,
        serverMessage: error.serverMessage,
        offered: error.offered
      }
    case "InvalidInputError":
      return {
        _tag: error._tag,
        field: error.field,
        reason: error.reason,
        foundWhileStreaming: error.foundWhileStreaming
      }
    case "DeliveryUnknownError":
      return {
        _tag: error._tag,
        cause: toJson(error.cause) as typeof UnknownCauseJson.Type,
        messageId: error.messageId,
        recipients: error.recipients
      }
    case "AttemptCutError":
      return { _tag: error._tag, attempt: error.attempt, messageId: error.messageId, recipients: error.recipients }
  }
}

const fromJson = (json: ErrorJson): StoredError => {
  switch (json._tag) {
    case "SocketError":
      return new SmtpError.SocketError(json)
    case "ProxyError": {
      const { timeoutMillis, ...fields } = json
      return new SmtpError.ProxyError({
        ...fields,
        timeout: timeoutMillis === undefined ? undefined : Duration.millis(timeoutMillis)
      })
    }
    case "TimeoutError":
      return new SmtpError.TimeoutError({
        operation: json.operation,
        timeout: Duration.millis(json.timeoutMillis),
        host: json.host,
        port: json.port,
        security: json.security
      })
    case "SmtpProtocolError":
      return new SmtpError.SmtpProtocolError(json)
    case "TlsError":
      return new SmtpError.TlsError(json)
    case "SmtpCommandError":
      return new SmtpError.SmtpCommandError(json)
    case "AuthenticationError":
      return new SmtpError.AuthenticationError(json)
    case "InvalidInputError":
      return new SmtpError.InvalidInputError(json)
    case "DeliveryUnknownError":
      return new SmtpError.DeliveryUnknownError({
        cause: fromJson(json.cause) as SmtpError.DeliveryUnknownError["cause"],
        messageId: json.messageId,
        recipients: json.recipients
      })
    case "AttemptCutError":
      return new AttemptCutError(json)
  }
}

const decodeError = Schema.decodeUnknownSync(Schema.fromJsonString(ErrorJson))
const decodeResult = Schema.decodeUnknownSync(Schema.fromJsonString(SendResult))

/** @internal */
export const encodeError = (error: StoredError): string => JSON.stringify(toJson(error))

/** Throws on text that is not a stored error: the table was written by something else. @internal */
export const decodeErrorText = (text: string): StoredError => fromJson(decodeError(text))

/** @internal */
export const encodeResult = (result: SmtpClient.SendResult): string => JSON.stringify(result)

/** @internal */
export const decodeResultText = (text: string): SmtpClient.SendResult => decodeResult(text)

/** Why a message failed for good. @internal */
export type FailureReason = "Permanent" | "RetriesExhausted"

const Failure = Schema.fromJsonString(Schema.Struct({
  reason: Schema.Literals(["Permanent", "RetriesExhausted"]),
  error: ErrorJson
}))
const decodeFailure = Schema.decodeUnknownSync(Failure)

/** @internal */
export const encodeFailure = (reason: FailureReason, error: StoredError): string =>
  JSON.stringify({ reason, error: toJson(error) })

/** @internal */
export const decodeFailureText = (text: string): { readonly reason: FailureReason; readonly error: StoredError } => {
  const decoded = decodeFailure(text)
  return { reason: decoded.reason, error: fromJson(decoded.error) }
}
