/**
 * tables.ts on both databases: a messages table made before the bodies
 * table (each message's bytes in its own `content` column) has them moved,
 * byte for byte, once, even when two runners start at once. PostgreSQL
 * needs EFFECT_SMTP_POSTGRES_URL (scripts/services/postgres.sh start
 * prints it; CI starts it).
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Redacted from "effect/Redacted"
import type * as SqlClient from "effect/sql/SqlClient"
import { createMessagesTable } from "../src/internal/tables.js"
import { tempDatabase } from "./utils/memory.js"
import { freshDatabase } from "./utils/postgres.js"

const url = process.env.EFFECT_SMTP_POSTGRES_URL

/** Bytes no text column would keep as they are: every byte value, a NUL among them. */
const bytesOf = (n: number) => Uint8Array.from({ length: 300 + n }, (_, i) => (i * 7 + n) % 256)

/** The messages table as the outbox made it before bodies had their own table, with three messages. */
const oldTable = (sql: SqlClient.SqlClient, binary: string) =>
  Effect.gen(function*() {
    yield* sql.unsafe(`
      CREATE TABLE t_messages (
        id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE, generation INTEGER NOT NULL DEFAULT 0,
        mail_from TEXT NOT NULL, rcpt_to TEXT NOT NULL, content ${binary} NOT NULL, message_id TEXT, extra TEXT,
        enqueued_at BIGINT NOT NULL, send_at BIGINT NOT NULL, state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at BIGINT, end_step TEXT, outcome TEXT,
        finished_at BIGINT, trace_id TEXT, span_id TEXT, batch TEXT
      )
    `)
    for (const [n, state] of [[0, "Pending"], [1, "Sent"], [2, "Unknown"]] as const) {
      yield* sql`INSERT INTO t_messages ${
        sql.insert({
          id: `m${n}`,
          mail_from: "app@example.com",
          rcpt_to: "[\"rcpt@example.com\"]",
          content: bytesOf(n),
          enqueued_at: n,
          send_at: n,
          state
        })
      }`
    }
  })

const expectMoved = (sql: SqlClient.SqlClient, columnsOf: string) =>
  Effect.gen(function*() {
    const columns = yield* sql.unsafe<{ name: string }>(columnsOf)
    expect(columns.map((column) => column.name)).not.toContain("content")
    expect(columns.map((column) => column.name)).toContain("end_step")
    const bodies = yield* sql<{ id: string; content: Uint8Array }>`SELECT id, content FROM t_bodies ORDER BY id`
    expect(bodies.map((row) => row.id)).toEqual(["m0", "m1", "m2"])
    bodies.forEach((row, n) => expect(new Uint8Array(row.content)).toEqual(bytesOf(n)))
  })

describe("the bodies' own table", () => {
  it.effect("SQLite: an old table's bodies move once, every state's; starting again changes nothing", () =>
    Effect.gen(function*() {
      const { filename } = yield* tempDatabase
      const sql = (yield* SqliteClient.make({ filename })).withoutTransforms()
      yield* oldTable(sql, "BLOB")
      yield* createMessagesTable(sql, "t")
      yield* createMessagesTable(sql, "t")
      yield* expectMoved(sql, "SELECT name FROM pragma_table_info('t_messages')")
    }).pipe(Effect.scoped, Effect.provide(Reactivity.layer)))

  it.effect("SQLite: a new table has no content column", () =>
    Effect.gen(function*() {
      const { filename } = yield* tempDatabase
      const sql = (yield* SqliteClient.make({ filename })).withoutTransforms()
      yield* createMessagesTable(sql, "t")
      const columns = yield* sql<{ name: string }>`SELECT name FROM pragma_table_info('t_messages')`
      expect(columns.map((column) => column.name)).not.toContain("content")
      expect(columns.map((column) => column.name)).toContain("batch")
    }).pipe(Effect.scoped, Effect.provide(Reactivity.layer)))

  describe.skipIf(url === undefined)("PostgreSQL", () => {
    it.live(
      "two runners starting at once: the bodies move once, byte for byte, and neither fails",
      () =>
        Effect.gen(function*() {
          const db = yield* freshDatabase(url ?? "")
          const connect = Effect.map(PgClient.make({ url: Redacted.make(db.url) }), (sql) => sql.withoutTransforms())
          const [first, second] = [yield* connect, yield* connect]
          yield* oldTable(first, "BYTEA")
          yield* Effect.all([createMessagesTable(first, "t"), createMessagesTable(second, "t")], {
            concurrency: "unbounded"
          })
          yield* expectMoved(
            first,
            "SELECT column_name AS name FROM information_schema.columns WHERE table_name = 't_messages'"
          )
        }).pipe(Effect.scoped, Effect.provide(Reactivity.layer)),
      { timeout: 60_000 }
    )
  })
})
