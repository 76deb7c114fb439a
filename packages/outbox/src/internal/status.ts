import type { SmtpClient, SmtpError } from "@effect-smtp/client"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import type { AttemptCutError } from "../OutboxError.js"
import * as codec from "./codec.js"
import type { MessageRow } from "./rows.js"

/**
 * Where a message stands, as `status` answers: the four classes (declared
 * here, re-exported by `SmtpOutbox`, so that this module needs nothing of
 * the public one at run time) and how a stored row becomes one of them.
 */

/**
 * Waiting to be sent, or being sent: `attempts` so far, and when the next
 * one is due (`undefined` while an attempt is running).
 *
 * @since 0.1.0
 * @category models
 */
export class Pending extends Data.TaggedClass("Pending")<{
  readonly id: string
  readonly attempts: number
  readonly nextAttemptAt: DateTime.Utc | undefined
  readonly enqueuedAt: DateTime.Utc
}> {}

/**
 * Accepted by the server for at least one recipient: the client's result
 * (accepted, rejected, response, queue ID).
 *
 * @since 0.1.0
 * @category models
 */
export class Sent extends Data.TaggedClass("Sent")<{
  readonly id: string
  readonly attempts: number
  readonly result: SmtpClient.SendResult
  readonly sentAt: DateTime.Utc
}> {}

/**
 * Not sent, for good: a permanent failure (a 5xx, bad input, a TLS
 * problem...) or the retry schedule ran out (`reason`); `error` is the
 * last attempt's typed error.
 *
 * @since 0.1.0
 * @category models
 */
export class Failed extends Data.TaggedClass("Failed")<{
  readonly id: string
  readonly attempts: number
  readonly reason: "Permanent" | "RetriesExhausted"
  readonly error: SmtpError.SmtpError
  readonly failedAt: DateTime.Utc
}> {}

/**
 * The server may hold the message: the end of it was sent and then the
 * reply was lost (`DeliveryUnknownError`), or the worker stopped after it
 * recorded that the end was about to be sent (`AttemptCutError`). Never
 * retried on its own: check, then `resend` if it did not arrive.
 *
 * @since 0.1.0
 * @category models
 */
export class Unknown extends Data.TaggedClass("Unknown")<{
  readonly id: string
  readonly attempts: number
  readonly error: SmtpError.DeliveryUnknownError | AttemptCutError
  readonly since: DateTime.Utc
}> {}

/**
 * Where a message stands.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = Pending | Sent | Failed | Unknown

const utc = (millis: number): DateTime.Utc => DateTime.makeUnsafe(millis)

/** @internal */
export const statusOf = (row: MessageRow): Status => {
  const at = utc(row.finishedAt ?? row.enqueuedAt)
  switch (row.state) {
    case "Pending":
      return new Pending({
        id: row.id,
        attempts: row.attempts,
        nextAttemptAt: row.nextAttemptAt === undefined ? undefined : utc(row.nextAttemptAt),
        enqueuedAt: utc(row.enqueuedAt)
      })
    case "Sent":
      return new Sent({
        id: row.id,
        attempts: row.attempts,
        result: codec.decodeResultText(row.outcome ?? ""),
        sentAt: at
      })
    case "Failed": {
      const failure = codec.decodeFailureText(row.outcome ?? "")
      return new Failed({
        id: row.id,
        attempts: row.attempts,
        reason: failure.reason,
        error: failure.error as SmtpError.SmtpError,
        failedAt: at
      })
    }
    case "Unknown":
      return new Unknown({
        id: row.id,
        attempts: row.attempts,
        error: codec.decodeErrorText(row.outcome ?? "") as SmtpError.DeliveryUnknownError | AttemptCutError,
        since: at
      })
  }
}
