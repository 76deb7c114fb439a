import * as Arr from "effect/Array"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { OutboxStoreError } from "../OutboxError.js"
import { CurrentDurability, type Durability } from "./durability.js"
import * as GroupCommit from "./groupCommit.js"
import {
  type BatchMember,
  batchStep,
  type Finish,
  type MessageRow,
  type NewMessage,
  optionalNumber,
  type RawRow,
  type State,
  type Stored,
  toRow
} from "./rows.js"
import { createMessagesTable } from "./tables.js"

/**
 * The outbox's own tables and what it does with them: one row per message
 * (rows.ts) and the shared counters of the rate limit and the client-wide
 * pause. The workflow engine keeps its own tables beside them.
 */

/** The store's operations; every failure is an `OutboxStoreError` naming what was being done. */
export interface Store {
  /**
   * Inserts the messages in one transaction (one commit), each unless one
   * with its idempotency key is stored already (earlier, or earlier in the
   * same call); what each did, in order.
   */
  readonly insertAll: (
    messages: ReadonlyArray<NewMessage>
  ) => Effect.Effect<ReadonlyArray<Stored>, OutboxStoreError>
  readonly get: (id: string) => Effect.Effect<MessageRow | undefined, OutboxStoreError>
  /** An attempt begins: counts it and clears the next attempt's time. */
  readonly beginAttempt: (id: string, generation: number) => Effect.Effect<void, OutboxStoreError>
  /** The durable record that `step`'s attempt is about to write the end of the message. */
  readonly recordEnd: (id: string, generation: number, step: string) => Effect.Effect<void, OutboxStoreError>
  readonly scheduleNext: (id: string, generation: number, at: number) => Effect.Effect<void, OutboxStoreError>
  /** Writes the outcome if the message is still pending in this generation: its attempts, or undefined when it was not. */
  readonly finish: (finish: Finish) => Effect.Effect<number | undefined, OutboxStoreError>
  /** Back to pending in a new generation, from Unknown or Failed only; the new generation, or undefined. */
  readonly reopen: (id: string, at: number) => Effect.Effect<number | undefined, OutboxStoreError>
  /**
   * A batch's pending messages (see `MessageRow.batch`), in the order they
   * were stored, read in one query for the batch's first attempt.
   */
  readonly batchOf: (batch: string) => Effect.Effect<ReadonlyArray<BatchMember>, OutboxStoreError>
  /**
   * The batch's first attempt begins: counts it for every pending member
   * of generation 0 (one write for the batch, not one per message), except
   * one whose durable record of that attempt is already written (a crash
   * after it: that member is parked, not attempted).
   */
  readonly beginBatch: (batch: string) => Effect.Effect<void, OutboxStoreError>
  /** When a batch's pending messages are due (the latest `sendAt`), or undefined when none is pending. */
  readonly batchDueAt: (batch: string) => Effect.Effect<number | undefined, OutboxStoreError>
  /** Every pending message's id, generation and batch, for starting workflows a crash may have missed. */
  readonly pending: Effect.Effect<
    ReadonlyArray<{ readonly id: string; readonly generation: number; readonly batch: string | undefined }>,
    OutboxStoreError
  >
  /** How many messages are in each state, and the oldest pending one's enqueue time. */
  readonly census: Effect.Effect<
    { readonly counts: Readonly<Record<State, number>>; readonly oldestPending: number | undefined },
    OutboxStoreError
  >
}

/** A database failure as the store's error; one already the store's (a failed fsync) as it is. */
const storeError = (operation: string) => (cause: SqlError | OutboxStoreError) =>
  cause._tag === "OutboxStoreError" ? cause : new OutboxStoreError({ operation, cause })

/** Inserts messages in one transaction, each unless its idempotency key is stored already. */
const insertMessages = (sql: SqlClient.SqlClient, prefix: string, durability: Durability) => {
  const messages = sql(`${prefix}_messages`)
  const bodies = sql(`${prefix}_bodies`)
  const rowOf = (message: NewMessage) => ({
    id: message.id,
    idempotency_key: message.idempotencyKey ?? null,
    generation: 0,
    mail_from: message.from,
    rcpt_to: JSON.stringify(message.to),
    message_id: message.messageId ?? null,
    extra: message.extra ?? null,
    enqueued_at: message.enqueuedAt,
    send_at: message.sendAt,
    state: "Pending",
    attempts: 0,
    next_attempt_at: message.sendAt,
    trace_id: message.traceId ?? null,
    span_id: message.spanId ?? null,
    batch: message.batch ?? null
  })
  /** Many rows per statement, well under both databases' limits on bound parameters (15 per row). */
  const chunk = 200
  /** Stores the chunk's messages whose keys are new, and their bodies; returns their ids. */
  const insertChunk = (rows: NonEmptyReadonlyArray<NewMessage>) =>
    Effect.gen(function*() {
      const inserted = yield* sql<{ id: string }>`
        INSERT INTO ${messages} ${sql.insert(Arr.map(rows, rowOf))}
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id
      `
      const ids = new Set(inserted.map((row) => row.id))
      const stored = rows.filter((message) => ids.has(message.id))
        .map((message): Record<string, unknown> => ({ id: message.id, content: message.content }))
      if (Arr.isReadonlyArrayNonEmpty(stored)) yield* sql`INSERT INTO ${bodies} ${sql.insert(stored)}`
      return ids
    })
  const existingByKey = (keys: ReadonlyArray<string>) =>
    keys.length === 0
      ? Effect.succeed([])
      : sql<{ id: string; generation: number | string; batch: string | null; idempotency_key: string }>`
          SELECT id, generation, batch, idempotency_key FROM ${messages} WHERE ${sql.in("idempotency_key", keys)}
        `
  const insertAll = (batch: ReadonlyArray<NewMessage>) =>
    Effect.gen(function*() {
      const inserted = new Set<string>()
      for (let from = 0; from < batch.length; from += chunk) {
        const rows = batch.slice(from, from + chunk)
        if (!Arr.isReadonlyArrayNonEmpty(rows)) continue
        for (const id of yield* insertChunk(rows)) inserted.add(id)
      }
      // Those not inserted had a key stored before (earlier, or earlier in this call: the same row).
      const conflicted = batch.filter((message) => !inserted.has(message.id))
      const existing = new Map<string, Stored>()
      const keys = conflicted.map((message) => message.idempotencyKey ?? "")
      for (let from = 0; from < keys.length; from += chunk) {
        for (const row of yield* existingByKey(keys.slice(from, from + chunk))) {
          existing.set(row.idempotency_key, {
            id: row.id,
            created: false,
            generation: Number(row.generation),
            batch: row.batch ?? undefined
          })
        }
      }
      return yield* Effect.forEach(batch, (message) => {
        if (inserted.has(message.id)) {
          const stored: Stored = { id: message.id, created: true, generation: 0, batch: message.batch }
          return Effect.succeed(stored)
        }
        const found = existing.get(message.idempotencyKey ?? "")
        return found === undefined
          ? Effect.die(new Error("an insert that conflicted found no row with its idempotency key"))
          : Effect.succeed(found)
      })
    })
  return (batch: ReadonlyArray<NewMessage>) =>
    // One transaction, many rows per statement: one commit (one fsync on
    // SQLite) for the lot.
    sql.withTransaction(insertAll(batch)).pipe(
      Effect.mapError(
        storeError(batch.length === 1 ? "storing a new message" : `storing ${batch.length} new messages`)
      ),
      // Stored means on disk before the caller hears so. Committed but not
      // confirmed on disk, the messages may be stored: the caller is told so.
      Effect.tap(() =>
        Effect.mapError(durability.sync, (error) =>
          new OutboxStoreError({
            operation: `confirming on disk ${
              batch.length === 1 ? "a new message" : `${batch.length} new messages`
            } (committed, so possibly stored: enqueueing again with the same idempotency key stores nothing twice)`,
            cause: error.cause
          }))
      )
    )
}

/**
 * Creates the tables when missing and returns the operations. `prefix`
 * names the tables (`<prefix>_messages`).
 *
 * @internal
 */
export const make = (prefix: string): Effect.Effect<Store, OutboxStoreError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    // The application's client may rename columns; these tables are ours.
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    // What must be on disk before the outbox goes on waits for it; the rest is durable by the next wait.
    const durability = yield* CurrentDurability
    const messages = sql(`${prefix}_messages`)
    const bodies = sql(`${prefix}_bodies`)
    // An attempt's writes (its start, the durable record, its outcome) are grouped with other attempts'.
    const grouped = yield* GroupCommit.make(sql, durability)
    yield* createMessagesTable(sql, prefix).pipe(Effect.mapError(storeError("creating the outbox's messages table")))

    // Reads asked for side by side (a batch's attempts, status calls) share one query.
    const getAll = GroupCommit.keyed((ids: ReadonlyArray<string>) =>
      Effect.map(
        Effect.forEach(
          Arr.chunksOf(ids, 200),
          (chunk) =>
            sql<RawRow>`
              SELECT m.*, b.content FROM ${messages} m JOIN ${bodies} b ON b.id = m.id WHERE m.id IN ${sql.in(chunk)}
            `
        ),
        (chunks) => new Map(chunks.flat().map((raw) => [raw.id, toRow(raw)] as const))
      )
    )
    const get = (id: string) => getAll(id).pipe(Effect.mapError(storeError(`reading message ${id}`)))

    const store: Store = {
      insertAll: insertMessages(sql, prefix, durability),
      get,
      beginAttempt: (id, generation) =>
        grouped(sql`
          UPDATE ${messages} SET attempts = attempts + 1, next_attempt_at = NULL
          WHERE id = ${id} AND generation = ${generation} AND state = 'Pending'
        `).pipe(Effect.asVoid, Effect.mapError(storeError(`recording the start of an attempt of ${id}`))),
      recordEnd: (id, generation, step) =>
        grouped(
          sql`
          UPDATE ${messages} SET end_step = ${step}
          WHERE id = ${id} AND generation = ${generation} AND state = 'Pending'
        `,
          { durable: true }
        ).pipe(
          // The end of the message is written only once this is on disk.
          Effect.asVoid,
          Effect.mapError(storeError(`recording that ${id} reached the end of its message`))
        ),
      scheduleNext: (id, generation, at) =>
        grouped(sql`
          UPDATE ${messages} SET next_attempt_at = ${at}
          WHERE id = ${id} AND generation = ${generation} AND state = 'Pending'
        `).pipe(Effect.asVoid, Effect.mapError(storeError(`scheduling the next attempt of ${id}`))),
      finish: (finish) =>
        grouped(sql<{ attempts: number | string }>`
          UPDATE ${messages}
          SET state = ${finish.state}, outcome = ${finish.outcome}, finished_at = ${finish.finishedAt},
            next_attempt_at = NULL
          WHERE id = ${finish.id} AND generation = ${finish.generation} AND state = 'Pending'
          RETURNING attempts
        `).pipe(
          Effect.map((rows) => rows.length === 0 ? undefined : Number(rows[0].attempts)),
          Effect.mapError(storeError(`recording the outcome of ${finish.id}`))
        ),
      reopen: (id, at) =>
        sql<{ generation: number | string }>`
          UPDATE ${messages}
          SET state = 'Pending', generation = generation + 1, outcome = NULL, finished_at = NULL,
            end_step = NULL, next_attempt_at = ${at}, send_at = ${at}, batch = NULL
          WHERE id = ${id} AND state IN ('Unknown', 'Failed')
          RETURNING generation
        `.pipe(
          Effect.map((rows) => rows.length === 0 ? undefined : Number(rows[0].generation)),
          Effect.mapError(storeError(`reopening ${id} for a resend`)),
          Effect.tap(() => durability.sync)
        ),
      batchDueAt: (batch) =>
        sql<{ due: number | string | null }>`
          SELECT MAX(send_at) AS due FROM ${messages} WHERE batch = ${batch} AND state = 'Pending'
        `.pipe(
          Effect.map((rows) => rows.length === 0 ? undefined : optionalNumber(rows[0].due)),
          Effect.mapError(storeError(`reading when batch ${batch} is due`))
        ),
      batchOf: (batch) =>
        sql<RawRow>`
          SELECT m.*, b.content FROM ${messages} m JOIN ${bodies} b ON b.id = m.id
          WHERE m.batch = ${batch} AND m.state = 'Pending' ORDER BY m.enqueued_at, m.id
        `.pipe(
          Effect.map((rows) =>
            rows.map((raw): BatchMember => ({ id: raw.id, generation: Number(raw.generation), row: () => toRow(raw) }))
          ),
          Effect.mapError(storeError(`reading the messages of batch ${batch}`))
        ),
      beginBatch: (batch) =>
        grouped(sql`
          UPDATE ${messages} SET attempts = attempts + 1, next_attempt_at = NULL
          WHERE batch = ${batch} AND generation = 0 AND state = 'Pending'
            AND (end_step IS NULL OR end_step <> ${batchStep})
        `).pipe(Effect.asVoid, Effect.mapError(storeError(`recording the start of batch ${batch}'s first attempt`))),
      pending: sql<{ id: string; generation: number | string; batch: string | null }>`
        SELECT id, generation, batch FROM ${messages} WHERE state = 'Pending' ORDER BY enqueued_at
      `.pipe(
        Effect.map((rows) =>
          rows.map((row) => ({ id: row.id, generation: Number(row.generation), batch: row.batch ?? undefined }))
        ),
        Effect.mapError(storeError("listing the pending messages"))
      ),
      census: Effect.gen(function*() {
        const rows = yield* sql<{ state: State; n: number | string; oldest: number | string | null }>`
          SELECT state, COUNT(*) AS n, MIN(enqueued_at) AS oldest FROM ${messages} GROUP BY state
        `
        const counts: Record<State, number> = { Pending: 0, Sent: 0, Failed: 0, Unknown: 0 }
        let oldestPending: number | undefined = undefined
        for (const row of rows) {
          counts[row.state] = Number(row.n)
          if (row.state === "Pending") oldestPending = optionalNumber(row.oldest)
        }
        return { counts, oldestPending }
      }).pipe(Effect.mapError(storeError("counting the messages by state")))
    }
    return store
  })

/** How the database is retried: soon at first, then every 30 seconds, for as long as it takes. */
export const storeRetry = Schedule.min([Schedule.exponential("200 millis"), Schedule.spaced("30 seconds")])

/**
 * The database is retried, not given up on: an outage delays sending and
 * loses nothing. Each retry is logged.
 *
 * The retry's machinery is set up only once the database has failed:
 * `Effect.retry` costs about 2 µs a call even when the first call answers,
 * and an attempt makes several of these calls. Its first run replays that
 * failure rather than calling the database again, so the retries keep the
 * schedule's times (the first 200 ms after the failure, not at once).
 *
 * @internal
 */
export const persistently = <A, E extends { readonly message: string }>(
  effect: Effect.Effect<A, E>
): Effect.Effect<A> =>
  Effect.catch(effect, (first) => {
    let replayed = false
    return Effect.suspend(() => {
      if (replayed) return effect
      replayed = true
      return Effect.fail(first)
    }).pipe(
      Effect.tapError((error) => Effect.logWarning(error.message)),
      Effect.retry(storeRetry),
      Effect.orDie
    )
  })
