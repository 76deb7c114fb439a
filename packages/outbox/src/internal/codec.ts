import type { SmtpClient } from "@effect-smtp/client"
import { SmtpError } from "@effect-smtp/client"
import * as Schema from "effect/Schema"
import { AttemptCutError } from "../OutboxError.js"

/**
 * How outcomes are stored: a send's result and the typed errors as JSON,
 * read back as the same classes (with their `message` and `retryable`).
 * The errors are written by their classes' own schemas; what an error wraps
 * from the OS (`cause` of a socket, TLS or proxy error) is not kept: its code is.
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

/** A stored error, and its fields as the class holds them. */
interface StoredForm extends Schema.Codec<Readonly<Record<string, unknown>>, Readonly<Record<string, unknown>>> {
  readonly fields: Schema.Struct.Fields
}

/**
 * The stored form of an error class: its own fields (its schema's, in their
 * order), but for a Duration, kept as milliseconds under `timeoutMillis`, and
 * what an error wraps from the OS (`cause` of a socket, TLS or proxy error),
 * which is not kept: its code is. The cause of a `DeliveryUnknownError` is
 * stored as an error itself (`cause` given here).
 */
const stored = (fields: Schema.Struct.Fields, cause?: Schema.Constraint): StoredForm => {
  const out: Record<string, Schema.Constraint> = {}
  for (const [key, field] of Object.entries(fields)) {
    if (key === "timeout") out.timeoutMillis = field
    else if (key !== "cause") out[key] = field
    else if (cause !== undefined) out.cause = cause
  }
  // The classes' fields need no services to decode or encode: plain data and Durations.
  return Schema.Struct(out) as unknown as StoredForm
}

const SocketErrorJson = stored(SmtpError.SocketError.fields)
const TimeoutErrorJson = stored(SmtpError.TimeoutError.fields)
const ProtocolErrorJson = stored(SmtpError.SmtpProtocolError.fields)
// The outbox's own error is not a Schema class (OutboxError.ts): its fields are written here.
const AttemptCutErrorJson = stored({
  _tag: Schema.Literal("AttemptCutError"),
  attempt: Schema.Number,
  messageId: Schema.optional(Schema.String),
  recipients: Schema.Array(Schema.String)
})

/** What a message can end with, or be retried after. */
export type StoredError = SmtpError.SmtpError | AttemptCutError
type Tag = StoredError["_tag"]

/** Each stored `_tag`'s stored form. */
const storedForms: { readonly [K in Tag]: StoredForm } = {
  SocketError: SocketErrorJson,
  TimeoutError: TimeoutErrorJson,
  SmtpProtocolError: ProtocolErrorJson,
  TlsError: stored(SmtpError.TlsError.fields),
  SmtpCommandError: stored(SmtpError.SmtpCommandError.fields),
  AuthenticationError: stored(SmtpError.AuthenticationError.fields),
  ProxyError: stored(SmtpError.ProxyError.fields),
  InvalidInputError: stored(SmtpError.InvalidInputError.fields),
  DeliveryUnknownError: stored(
    SmtpError.DeliveryUnknownError.fields,
    Schema.Union([SocketErrorJson, TimeoutErrorJson, ProtocolErrorJson])
  ),
  AttemptCutError: AttemptCutErrorJson
}
const ErrorJson = Schema.Union(Object.values(storedForms))

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

/**
 * The error as its stored form reads it, every class alike: its stored
 * fields in their order, `timeout` under `timeoutMillis`, and the cause of a
 * `DeliveryUnknownError` as a stored error. What the form does not name (an
 * OS `cause`, say) is left out.
 */
const toStored = (error: StoredError): Record<string, unknown> => {
  const fields = error as unknown as Readonly<Record<string, unknown>>
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(storedForms[error._tag].fields)) {
    out[key] = key === "timeoutMillis"
      ? fields.timeout
      : key === "cause"
      ? toStored(fields.cause as StoredError)
      : fields[key]
  }
  return out
}

const fromStored = (stored: Readonly<Record<string, unknown>>): StoredError => {
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(stored)) {
    if (key === "timeoutMillis") fields.timeout = value
    else if (key === "cause") fields.cause = fromStored(value as Readonly<Record<string, unknown>>)
    else if (key !== "_tag") fields[key] = value
  }
  // The stored form checked these fields for this `_tag`; its class takes them.
  return new (classes[stored._tag as Tag] as unknown as new(fields: object) => StoredError)(fields)
}

// The classes' own encoding, not `Schema.toCodecJson`: no error has a Redacted
// field, and should one get one, it stays a Redacted here, which
// JSON.stringify writes as "<redacted>" (as before); toCodecJson would write
// the secret itself.
const toJson = Schema.encodeSync(ErrorJson)
const fromJson = (json: unknown): StoredError => fromStored(json as Readonly<Record<string, unknown>>)

const decodeError = Schema.decodeUnknownSync(Schema.fromJsonString(ErrorJson))
const decodeResult = Schema.decodeUnknownSync(Schema.fromJsonString(SendResult))

/** @internal */
export const encodeError = (error: StoredError): string => JSON.stringify(toJson(toStored(error)))

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
  JSON.stringify({ reason, error: toJson(toStored(error)) })

/** @internal */
export const decodeFailureText = (text: string): { readonly reason: FailureReason; readonly error: StoredError } => {
  const decoded = decodeFailure(text)
  return { reason: decoded.reason, error: fromJson(decoded.error) }
}
