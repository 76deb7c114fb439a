import * as Schema from "effect/Schema"
import * as internal from "../smtpError.js"
import { listOf, Security } from "./fields.js"
import { SmtpProtocolError } from "./reply.js"
import { SocketError } from "./transport.js"

/**
 * The errors the client decides itself: a wait that ran out, input refused
 * before any byte was sent, and a message whose delivery is unknown.
 * Re-exported by `SmtpError`.
 */

/**
 * A wait ran past its timeout. Raised by the client's own timer, so it never
 * carries a `socket.error`.
 *
 * @since 0.1.0
 * @category errors
 */
export class TimeoutError extends Schema.TaggedError<TimeoutError>()("TimeoutError", {
  operation: Schema.String,
  /** Encoded as milliseconds. */
  timeout: Schema.DurationFromMillis,
  /** Where the client waited: set for the greeting, whose silence has a likely cause worth naming. */
  host: Schema.optional(Schema.String),
  port: Schema.optional(Schema.Number),
  /** The security mode the connection was opened with (greeting only). */
  security: Schema.optional(Security)
}) {
  /** @since 0.1.0 */
  readonly [internal.TypeId]: typeof internal.TypeId = internal.TypeId

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
    return internal.timeoutMessage(this)
  }
}

/**
 * Input rejected before any byte was written: a control character in an
 * address or parameter, no recipients, a message over the server's SIZE, ...
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidInputError extends Schema.TaggedError<InvalidInputError>()("InvalidInputError", {
  /** Which input: "from", "to", "ehloName", "auth.user", "dsn.envid", ... */
  field: Schema.String,
  reason: Schema.String,
  /**
   * Found part way through a streamed body: what was streamed before it may
   * have reached the server, never the end of the message (the final dot or
   * BDAT LAST), so the server discards it and nothing is delivered.
   */
  foundWhileStreaming: Schema.optional(Schema.Boolean)
}) {
  /** @since 0.1.0 */
  readonly [internal.TypeId]: typeof internal.TypeId = internal.TypeId

  /**
   * Bad input stays bad.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return internal.invalidInputMessage(this)
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
export class DeliveryUnknownError extends Schema.TaggedError<DeliveryUnknownError>()("DeliveryUnknownError", {
  cause: Schema.Union([SocketError, TimeoutError, SmtpProtocolError]),
  /** The message's Message-ID, when known, to look it up at the recipient. */
  messageId: Schema.optional(Schema.String),
  recipients: listOf(Schema.String)
}) {
  /** @since 0.1.0 */
  readonly [internal.TypeId]: typeof internal.TypeId = internal.TypeId

  /**
   * Never retried automatically: the message may have been delivered.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return internal.deliveryUnknownMessage(this)
  }
}
