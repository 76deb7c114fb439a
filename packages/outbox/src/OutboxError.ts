/**
 * The outbox's own errors. What a send failed with stays the client's
 * `SmtpError`, carried by a message's `Failed` or `Unknown` status.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@effect-smtp/outbox/OutboxError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The outbox's database failed (connection lost, disk full, locked...).
 * Nothing is lost: what was stored stays stored, and an enqueue that failed
 * here may be repeated with the same idempotency key.
 *
 * @since 0.1.0
 * @category errors
 */
export class OutboxStoreError extends Data.TaggedError("OutboxStoreError")<{
  /** What the outbox was doing, e.g. "storing a new message". */
  readonly operation: string
  readonly cause: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId

  override get message(): string {
    const reason = this.cause instanceof Error ? `: ${this.cause.message}` : ""
    return `The outbox's database failed while ${this.operation}${reason}. Check that the database is reachable and writable; nothing stored was lost.`
  }
}

/**
 * No message has this id in the outbox.
 *
 * @since 0.1.0
 * @category errors
 */
export class MessageNotFoundError extends Data.TaggedError("MessageNotFoundError")<{
  readonly id: string
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId

  override get message(): string {
    return `No message with id ${JSON.stringify(this.id)} is in the outbox: use the id enqueue returned.`
  }
}

/**
 * `resend` was asked for a message that is not parked: only `Unknown` and
 * `Failed` messages are sent again by hand; a `Pending` one is still being
 * sent and a `Sent` one was delivered.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResendRefusedError extends Data.TaggedError("ResendRefusedError")<{
  readonly id: string
  readonly state: "Pending" | "Sent"
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId

  override get message(): string {
    return this.state === "Sent"
      ? `Message ${this.id} was delivered (Sent): resending would send it twice. Enqueue a new message to send it again on purpose.`
      : `Message ${this.id} is still Pending: the outbox is sending it and will retry it on its own.`
  }
}

/**
 * An attempt was cut (the worker process died, lost its database, or was
 * stopped and the server's reply took longer than `stopTimeout`) after the
 * outbox had durably recorded that the attempt was about to write the end
 * of the message: the server may hold the message, so the outbox parks it
 * as `Unknown` rather than send it again.
 *
 * @since 0.1.0
 * @category errors
 */
export class AttemptCutError extends Data.TaggedError("AttemptCutError")<{
  /** Which attempt of the message was cut (1 for the first). */
  readonly attempt: number
  readonly messageId?: string | undefined
  readonly recipients: ReadonlyArray<string>
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId

  /**
   * Never retried automatically: the message may have been delivered.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `The message${
      this.messageId !== undefined ? ` ${this.messageId}` : ""
    } may have been delivered: attempt ${this.attempt} was about to send its end when the worker stopped. Check with the recipients or the server's logs, then SmtpOutbox.resend(id) if it did not arrive.`
  }
}

/**
 * Any failure of the outbox itself.
 *
 * @since 0.1.0
 * @category models
 */
export type OutboxError = OutboxStoreError | MessageNotFoundError | ResendRefusedError
