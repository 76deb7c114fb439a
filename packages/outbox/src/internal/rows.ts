/**
 * A message as the store keeps it: the row it reads and writes (its exact
 * bytes, envelope, state and outcome), what storing one takes and returns,
 * and how a raw row from either database decodes.
 */

/** A message as stored. Times are milliseconds since the epoch on Effect's Clock. */
export interface MessageRow {
  readonly id: string
  readonly generation: number
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly content: Uint8Array
  readonly messageId: string | undefined
  /** JSON of the DSN options and partialDelivery, when given. */
  readonly extra: string | undefined
  readonly enqueuedAt: number
  readonly sendAt: number
  readonly state: State
  readonly attempts: number
  readonly nextAttemptAt: number | undefined
  /** The durable record: the step whose attempt was about to write the end of the message. */
  readonly endStep: string | undefined
  /** JSON of the result (Sent) or the error (Failed, Unknown). */
  readonly outcome: string | undefined
  readonly finishedAt: number | undefined
  readonly traceId: string | undefined
  readonly spanId: string | undefined
  /**
   * The batch whose workflow sends the message's first attempt (one
   * workflow for many messages), or undefined when the message has a
   * workflow of its own.
   */
  readonly batch: string | undefined
}

/** @internal */
export type State = "Pending" | "Sent" | "Failed" | "Unknown"

/** What `enqueue` writes: a new row's own fields, and the key that makes a repeat store nothing. */
export interface NewMessage extends
  Pick<
    MessageRow,
    "id" | "from" | "to" | "content" | "messageId" | "extra" | "enqueuedAt" | "sendAt" | "traceId" | "spanId" | "batch"
  >
{
  readonly idempotencyKey: string | undefined
}

/** What storing a message did: its id (the first one's for a repeated key) and whether it is new. */
export interface Stored {
  readonly id: string
  readonly created: boolean
  /** The stored message's generation and batch (for a repeated key: the first one's, as they stand). */
  readonly generation: number
  readonly batch: string | undefined
}

/** A row as either database returns it (numbers may come back as strings). @internal */
export interface RawRow {
  readonly id: string
  readonly generation: number | string
  readonly mail_from: string
  readonly rcpt_to: string
  readonly content: Uint8Array
  readonly message_id: string | null
  readonly extra: string | null
  readonly enqueued_at: number | string
  readonly send_at: number | string
  readonly state: State
  readonly attempts: number | string
  readonly next_attempt_at: number | string | null
  readonly end_step: string | null
  readonly outcome: string | null
  readonly finished_at: number | string | null
  readonly trace_id: string | null
  readonly span_id: string | null
  readonly batch: string | null
}

/** @internal */
export const optionalNumber = (value: number | string | null): number | undefined =>
  value === null ? undefined : Number(value)

/** @internal */
export const toRow = (raw: RawRow): MessageRow => ({
  id: raw.id,
  generation: Number(raw.generation),
  from: raw.mail_from,
  to: JSON.parse(raw.rcpt_to) as ReadonlyArray<string>,
  // Drivers hand back a Buffer (a Uint8Array) or, for some, a plain view.
  content: raw.content instanceof Uint8Array ? raw.content : new Uint8Array(raw.content),
  messageId: raw.message_id ?? undefined,
  extra: raw.extra ?? undefined,
  enqueuedAt: Number(raw.enqueued_at),
  sendAt: Number(raw.send_at),
  state: raw.state,
  attempts: Number(raw.attempts),
  nextAttemptAt: optionalNumber(raw.next_attempt_at),
  endStep: raw.end_step ?? undefined,
  outcome: raw.outcome ?? undefined,
  finishedAt: optionalNumber(raw.finished_at),
  traceId: raw.trace_id ?? undefined,
  spanId: raw.span_id ?? undefined,
  batch: raw.batch ?? undefined
})

/** A batch member as read for its batch's first attempt. */
export interface BatchMember {
  readonly id: string
  readonly generation: number
  /**
   * The stored row, decoded when the member's own attempt runs: a row that
   * cannot be decoded fails that member only, not the batch.
   */
  readonly row: () => MessageRow
}

/** The step of a batch's first attempt, as the durable record names it. */
export const batchStep = "0/1"

/** A finished message's outcome, written once by the attempt that ended it. */
export interface Finish {
  readonly id: string
  readonly generation: number
  readonly state: Exclude<State, "Pending">
  readonly outcome: string
  readonly finishedAt: number
}
