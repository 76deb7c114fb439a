import * as Effect from "effect/Effect"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

/**
 * The outbox's DDL: how its tables are made once per database, and the
 * messages and bodies tables (the limits tables are made in limits.ts).
 */

/** Inside a transaction on PostgreSQL: the DDL's lock, held until it ends; nothing on SQLite (one process per file). */
const ddlLock = (sql: SqlClient.SqlClient): Effect.Effect<void, SqlError> =>
  sql.onDialectOrElse({
    pg: () => Effect.asVoid(sql.unsafe("SELECT pg_advisory_xact_lock(hashtext('effect-smtp/outbox/ddl'))")),
    orElse: () => Effect.void
  })

/**
 * Runs DDL once per database even when several runners start at once:
 * PostgreSQL's `CREATE TABLE IF NOT EXISTS` is not safe against a
 * concurrent twin (it can fail on pg_type's unique index), so there the
 * statements run in one transaction behind an advisory lock.
 *
 * @internal
 */
export const createTables = (sql: SqlClient.SqlClient, ...statements: ReadonlyArray<string>) =>
  sql.onDialectOrElse({
    pg: () =>
      sql.withTransaction(
        Effect.andThen(
          ddlLock(sql),
          Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
        )
      ),
    orElse: () => Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
  })

/** A table's column names, as the database has them now. */
const columnsOf = (sql: SqlClient.SqlClient, table: string): Effect.Effect<ReadonlyArray<string>, SqlError> =>
  Effect.map(
    sql.onDialectOrElse({
      pg: () =>
        sql.unsafe<{ name: string }>(
          `SELECT column_name AS name FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = $1`,
          [table]
        ),
      orElse: () => sql.unsafe<{ name: string }>(`SELECT name FROM pragma_table_info(?)`, [table])
    }),
    (rows) => rows.map((row) => row.name)
  )

/**
 * The messages table and its indexes, and the bodies table beside it, made
 * once per database.
 *
 * A message's bytes live in `<prefix>_bodies`, written once and read by
 * its attempts: the messages table holds what changes (the durable record,
 * the state, the outcome), so each of those writes rewrites a row of a few
 * hundred bytes instead of one carrying the whole message (2 KB and more),
 * which was the largest part of the outbox's own time per message.
 *
 * @internal
 */
export const createMessagesTable = (sql: SqlClient.SqlClient, prefix: string) => {
  const messages = `${prefix}_messages`
  const bodies = `${prefix}_bodies`
  // PostgreSQL and SQLite: both speak ON CONFLICT and RETURNING.
  const binary = sql.onDialectOrElse({ pg: () => "BYTEA", orElse: () => "BLOB" })
  // Tables made before batches lack the column: PostgreSQL adds it in the
  // DDL's transaction (behind its lock); SQLite has no ADD COLUMN IF NOT
  // EXISTS, and one process per file, so it looks first.
  const addBatchColumn = sql.onDialectOrElse({
    pg: () => [`ALTER TABLE ${messages} ADD COLUMN IF NOT EXISTS batch TEXT`],
    orElse: () => []
  })
  const addBatchColumnSqlite: Effect.Effect<void, SqlError> = sql.onDialectOrElse({
    pg: () => Effect.void,
    orElse: () =>
      Effect.flatMap(
        columnsOf(sql, messages),
        (columns): Effect.Effect<void, SqlError> =>
          columns.includes("batch")
            ? Effect.void
            : Effect.asVoid(sql.unsafe(`ALTER TABLE ${messages} ADD COLUMN batch TEXT`))
      )
  })
  // A messages table made before the bodies table holds each message's
  // bytes in its own `content` column: they move, every state's (a
  // finished message can be sent again), in one transaction with the
  // column's removal, once. Runners of an earlier version still write that
  // column, so they stop before a runner of this one starts.
  const moveBodies = sql.withTransaction(Effect.gen(function*() {
    yield* ddlLock(sql)
    if (!(yield* columnsOf(sql, messages)).includes("content")) return
    // `WHERE true`: without it SQLite reads ON CONFLICT as part of the SELECT's join.
    yield* sql.unsafe(
      `INSERT INTO ${bodies} (id, content) SELECT id, content FROM ${messages} WHERE true ON CONFLICT (id) DO NOTHING`
    )
    yield* sql.unsafe(`ALTER TABLE ${messages} DROP COLUMN content`)
  }))
  return createTables(
    sql,
    `
    CREATE TABLE IF NOT EXISTS ${messages} (
      id TEXT PRIMARY KEY,
      idempotency_key TEXT UNIQUE,
      generation INTEGER NOT NULL DEFAULT 0,
      mail_from TEXT NOT NULL,
      rcpt_to TEXT NOT NULL,
      message_id TEXT,
      extra TEXT,
      enqueued_at BIGINT NOT NULL,
      send_at BIGINT NOT NULL,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at BIGINT,
      end_step TEXT,
      outcome TEXT,
      finished_at BIGINT,
      trace_id TEXT,
      span_id TEXT,
      batch TEXT
    )
  `,
    `CREATE INDEX IF NOT EXISTS ${messages}_state ON ${messages} (state, enqueued_at)`,
    `CREATE TABLE IF NOT EXISTS ${bodies} (id TEXT PRIMARY KEY, content ${binary} NOT NULL)`,
    ...addBatchColumn
  ).pipe(
    Effect.andThen(addBatchColumnSqlite),
    Effect.andThen(
      createTables(sql, `CREATE INDEX IF NOT EXISTS ${messages}_batch ON ${messages} (batch, state, enqueued_at, id)`)
    ),
    Effect.andThen(moveBodies)
  )
}
