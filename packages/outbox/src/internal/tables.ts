import * as Effect from "effect/Effect"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

/**
 * The outbox's DDL: how its tables are made once per database, and the
 * messages table (the limits tables are made in limits.ts).
 */

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
          sql.unsafe("SELECT pg_advisory_xact_lock(hashtext('effect-smtp/outbox/ddl'))"),
          Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
        )
      ),
    orElse: () => Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
  })

/** The messages table and its indexes, made once per database. @internal */
export const createMessagesTable = (sql: SqlClient.SqlClient, prefix: string) => {
  // PostgreSQL and SQLite: both speak ON CONFLICT and RETURNING.
  const binary = sql.onDialectOrElse({ pg: () => "BYTEA", orElse: () => "BLOB" })
  // Tables made before batches lack the column: PostgreSQL adds it in the
  // DDL's transaction (behind its lock); SQLite has no ADD COLUMN IF NOT
  // EXISTS, and one process per file, so it looks first.
  const addBatchColumn = sql.onDialectOrElse({
    pg: () => [`ALTER TABLE ${prefix}_messages ADD COLUMN IF NOT EXISTS batch TEXT`],
    orElse: () => []
  })
  const addBatchColumnSqlite: Effect.Effect<void, SqlError> = sql.onDialectOrElse({
    pg: () => Effect.void,
    orElse: () =>
      Effect.flatMap(
        sql.unsafe<{ name: string }>(`SELECT name FROM pragma_table_info('${prefix}_messages')`),
        (columns): Effect.Effect<void, SqlError> =>
          columns.some((column) => column.name === "batch")
            ? Effect.void
            : Effect.asVoid(sql.unsafe(`ALTER TABLE ${prefix}_messages ADD COLUMN batch TEXT`))
      )
  })
  return createTables(
    sql,
    `
    CREATE TABLE IF NOT EXISTS ${prefix}_messages (
      id TEXT PRIMARY KEY,
      idempotency_key TEXT UNIQUE,
      generation INTEGER NOT NULL DEFAULT 0,
      mail_from TEXT NOT NULL,
      rcpt_to TEXT NOT NULL,
      content ${binary} NOT NULL,
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
    `CREATE INDEX IF NOT EXISTS ${prefix}_messages_state ON ${prefix}_messages (state, enqueued_at)`,
    ...addBatchColumn
  ).pipe(
    Effect.andThen(addBatchColumnSqlite),
    Effect.andThen(
      createTables(
        sql,
        `CREATE INDEX IF NOT EXISTS ${prefix}_messages_batch ON ${prefix}_messages (batch, state, enqueued_at, id)`
      )
    )
  )
}
