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

const TlsErrorJson = Schema.Struct({
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
})
const CommandErrorJson = Schema.Struct({
  _tag: Schema.Literal("SmtpCommandError"),
  command: Schema.String,
  statusCode: Schema.Number,
  enhancedStatusCode: Schema.optional(Schema.String),
  serverMessage: Schema.String,
  recipient: Schema.optional(Schema.String),
  rejectedRecipients: Schema.optional(Schema.Array(RecipientResult)),
  acceptedRecipients: Schema.optional(Schema.Array(Schema.String))
})
const AuthenticationErrorJson = Schema.Struct({
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
})
const ProxyErrorJson = Schema.Struct({
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
})
const InvalidInputErrorJson = Schema.Struct({
  _tag: Schema.Literal("InvalidInputError"),
  field: Schema.String,
  reason: Schema.String,
  foundWhileStreaming: Schema.optional(Schema.Boolean)
})
const DeliveryUnknownErrorJson = Schema.Struct({
  _tag: Schema.Literal("DeliveryUnknownError"),
  cause: UnknownCauseJson,
  messageId: Schema.optional(Schema.String),
  recipients: Schema.Array(Schema.String)
})
const AttemptCutErrorJson = Schema.Struct({
  _tag: Schema.Literal("AttemptCutError"),
  attempt: Schema.Number,
  messageId: Schema.optional(Schema.String),
  recipients: Schema.Array(Schema.String)
})

const members = [
  SocketErrorJson,
  TimeoutErrorJson,
  ProtocolErrorJson,
  TlsErrorJson,
  CommandErrorJson,
  AuthenticationErrorJson,
  ProxyErrorJson,
  InvalidInputErrorJson,
  DeliveryUnknownErrorJson,
  AttemptCutErrorJson
] as const
const ErrorJson = Schema.Union(members)
type ErrorJson = typeof ErrorJson.Type

/** What a message can end with, or be retried after. */
export type StoredError = SmtpError.SmtpError | AttemptCutError
type Tag = StoredError["_tag"]

/** The class each stored `_tag` is read back as. */
const classes: { readonly [K in Tag]: new(fields: never) => Extract<StoredError, { readonly _tag: K }> } = {
  SocketError: SmtpError.SocketError,
  TimeoutError: SmtpError.TimeoutError,
  SmtpProtocolError: SmtpError.SmtpProtocolError,
  TlsError: SmtpError.TlsError,
  SmtpCommandError: SmtpError.SmtpCommandError,
  AuthenticationError: SmtpError.AuthenticationError,
  ProxyError: SmtpError.ProxyError,
  InvalidInputError: SmtpError.InvalidInputError,
  DeliveryUnknownError: SmtpError.DeliveryUnknownError,
  AttemptCutError
}

/** The stored fields of each class, in the order they are written: the schemas' own. */
const storedKeys = new Map<string, ReadonlyArray<string>>(
  members.map((member) => [member.fields._tag.literal, Object.keys(member.fields)])
)

/**
 * The error's stored fields as they are: every error is written alike, but
 * for its `timeout` (a Duration, kept as `timeoutMillis`) and the cause of
 * a `DeliveryUnknownError` (itself a stored error). What the schema does not
 * name (an OS `cause`, say) is left out.
 */
const toJson = (error: StoredError): ErrorJson => {
  const fields = error as unknown as Readonly<Record<string, unknown>>
  const json: Record<string, unknown> = {}
  for (const key of storedKeys.get(error._tag) ?? []) {
    if (key === "timeoutMillis") {
      json.timeoutMillis = fields.timeout === undefined
        ? undefined
        : Duration.toMillis(fields.timeout as Duration.Duration)
    } else if (key === "cause") {
      json.cause = toJson(fields.cause as StoredError)
    } else {
      json[key] = fields[key]
    }
  }
  // The keys are the schema's own for this tag, read off the class it describes.
  return json as ErrorJson
}

const fromJson = (json: ErrorJson): StoredError => {
  const { _tag, ...stored } = json
  const fields: Record<string, unknown> = { ...stored }
  if ("timeoutMillis" in stored) {
    delete fields.timeoutMillis
    fields.timeout = stored.timeoutMillis === undefined ? undefined : Duration.millis(stored.timeoutMillis)
  }
  if ("cause" in stored) fields.cause = fromJson(stored.cause)
  // The schema checked these fields for this `_tag`; its class takes them as they are.
  return new (classes[_tag] as unknown as new(fields: object) => StoredError)(fields)
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
