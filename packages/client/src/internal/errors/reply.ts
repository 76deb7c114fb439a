import * as Schema from "effect/Schema"
import * as internal from "../smtpError.js"
import { listOf, RecipientRejection } from "./fields.js"

/**
 * The errors of what the server answered: a refusal, a broken protocol, and
 * a failed AUTH. Re-exported by `SmtpError`.
 */

/**
 * The server answered a command with a failure reply (4xx / 5xx, or a code the
 * command does not allow). `statusCode` is the documented `smtp.status_code`.
 * When no recipient was accepted, `rejectedRecipients` says which failed and why.
 *
 * @since 0.1.0
 * @category errors
 */
export class SmtpCommandError extends Schema.TaggedError<SmtpCommandError>()("SmtpCommandError", {
  command: Schema.String,
  statusCode: Schema.Number,
  enhancedStatusCode: Schema.optional(Schema.String),
  serverMessage: Schema.String,
  recipient: Schema.optional(Schema.String),
  rejectedRecipients: Schema.optional(listOf(RecipientRejection)),
  /**
   * `partialDelivery: "abort"`: the recipients the server accepted before the
   * message was aborted (RSET, no DATA) because others were refused.
   */
  acceptedRecipients: Schema.optional(listOf(Schema.String))
}) {
  /** @since 0.1.0 */
  readonly [internal.TypeId]: typeof internal.TypeId = internal.TypeId

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
    return internal.isTransientReply(this.statusCode, this.enhancedStatusCode)
  }

  override get message(): string {
    return internal.commandMessage(this)
  }
}

/**
 * The server broke the protocol: a malformed or over-long reply, or bytes
 * where none may be (the STARTTLS response-injection attack).
 *
 * @since 0.1.0
 * @category errors
 */
export class SmtpProtocolError extends Schema.TaggedError<SmtpProtocolError>()("SmtpProtocolError", {
  reason: Schema.Literals(["MalformedReply", "ReplyTooLong", "UnexpectedReply", "StartTlsInjection"]),
  detail: Schema.String
}) {
  /** @since 0.1.0 */
  readonly [internal.TypeId]: typeof internal.TypeId = internal.TypeId

  /**
   * A server that breaks the protocol (or attacks) is not retried.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return internal.protocolMessage(this)
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
export class AuthenticationError extends Schema.TaggedError<AuthenticationError>()("AuthenticationError", {
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
}) {
  /** @since 0.1.0 */
  readonly [internal.TypeId]: typeof internal.TypeId = internal.TypeId

  /**
   * Only a temporary refusal (454 4.7.0, say) is worth retrying; wrong
   * credentials stay wrong.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return this.statusCode !== undefined && internal.isTransientReply(this.statusCode, this.enhancedStatusCode)
  }

  override get message(): string {
    return internal.authenticationMessage(this)
  }
}
