/**
 * `enqueueAll` and the batch workflow that sends what it stores (issue 22),
 * on the in-memory engine under TestClock, and grouped single enqueues.
 */
import { SmtpError } from "@effect-smtp/client"
import { TestSocket } from "@effect-smtp/testing"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/testing/TestClock"
import { message, outbox, settle, tempDatabase } from "./utils/memory.js"

const decoder = new TextDecoder()

const received = (server: ReturnType<typeof TestSocket.smtpServer>) =>
  server.received.map((m) => decoder.decode(m.data)).sort()

/** The final reply to the n-th message the server takes (the default one past the list). */
const finalReplies = (server: ReturnType<typeof TestSocket.smtpServer>, replies: ReadonlyArray<string>) => {
  let n = 0
  return (side: TestSocket.ServerSide) =>
    server.script({
      ...side,
      send: (data) =>
        side.send(typeof data === "string" && data.startsWith("250 2.0.0 Ok") ? replies[n++] ?? data : data)
    })
}

describe("SmtpOutbox.enqueueAll", () => {
  it.effect("stores every entry and returns the ids in order; each ends Sent, sent once", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const { service, sql } = yield* outbox(server.script)
      const ids = yield* service.enqueueAll([1, 2, 3, 4, 5].map((n) => ({ mail: message(n) })))
      expect(new Set(ids).size).toBe(5)
      // In order: the n-th id is the n-th message.
      const rows = yield* sql<{ id: string; message_id: string; batch: string | null }>`
        SELECT id, message_id, batch FROM smtp_outbox_messages
      `
      const byId = new Map(rows.map((row) => [row.id, row]))
      expect(ids.map((id) => byId.get(id)?.message_id)).toEqual([1, 2, 3, 4, 5].map((n) => `<m${n}@example.com>`))
      // All due now: one batch.
      expect(new Set(rows.map((row) => row.batch)).size).toBe(1)
      expect(rows[0].batch).not.toBeNull()
      yield* settle
      for (const id of ids) {
        const status = yield* service.status(id)
        expect(status._tag).toBe("Sent")
        expect(status.attempts).toBe(1)
      }
      expect(received(server)).toEqual([1, 2, 3, 4, 5].map((n) => message(n).content).sort())
    }))

  it.effect("repeated keys store once: a key stored before, or earlier in the same call, gives the first id", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const { service, sql } = yield* outbox(server.script)
      const before = yield* service.enqueue(message(1), { idempotencyKey: "order-1" })
      const ids = yield* service.enqueueAll([
        { mail: message(2), idempotencyKey: "order-1" },
        { mail: message(3), idempotencyKey: "order-3" },
        { mail: message(4), idempotencyKey: "order-3" },
        { mail: message(5) }
      ])
      expect(ids[0]).toBe(before)
      expect(ids[2]).toBe(ids[1])
      expect(new Set([before, ids[1], ids[3]]).size).toBe(3)
      const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM smtp_outbox_messages`
      expect(rows[0].n).toBe(3)
      yield* settle
      expect(received(server)).toEqual([message(1).content, message(3).content, message(5).content].sort())
    }))

  it.effect("a bad entry fails the call with InvalidInputError naming its index, and nothing is stored", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const { service, sql } = yield* outbox(server.script)
      const error = yield* Effect.flip(service.enqueueAll([
        { mail: message(1) },
        { mail: message(2) },
        { mail: { ...message(3), to: ["rcpt@example.com\r\nDATA"] } }
      ]))
      expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
      expect(error._tag === "InvalidInputError" && error.field).toBe("entries[2].to")
      expect(error.message).toContain("entries[2].to")
      const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM smtp_outbox_messages`
      expect(rows[0].n).toBe(0)
      yield* settle
      expect(server.commands).toEqual([])
    }))

  it.effect("each entry has its own sendAt: the due ones go now, later ones (one batch when due together) when due", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const { service, sql } = yield* outbox(server.script)
      const later = DateTime.add(yield* DateTime.now, { hours: 1 })
      const ids = yield* service.enqueueAll([
        { mail: message(1) },
        { mail: message(2), sendAt: later },
        { mail: message(3) },
        { mail: message(4), sendAt: later }
      ])
      const rows = yield* sql<{ id: string; batch: string | null }>`SELECT id, batch FROM smtp_outbox_messages`
      const batchOf = new Map(rows.map((row) => [row.id, row.batch]))
      expect(batchOf.get(ids[1])).toBe(batchOf.get(ids[3]))
      expect(batchOf.get(ids[0])).toBe(batchOf.get(ids[2]))
      expect(batchOf.get(ids[1])).not.toBe(batchOf.get(ids[0]))
      yield* settle
      expect(received(server)).toEqual([message(1).content, message(3).content].sort())
      expect((yield* service.status(ids[1]))._tag).toBe("Pending")
      yield* TestClock.adjust(Duration.millis(3600_000 - 1))
      yield* settle
      expect(server.received).toHaveLength(2)
      yield* TestClock.adjust(Duration.millis(1))
      yield* settle
      expect((yield* service.status(ids[1]))._tag).toBe("Sent")
      expect((yield* service.status(ids[3]))._tag).toBe("Sent")
      expect(server.received).toHaveLength(4)
    }))

  it.effect("a batch member refused after its data (451) is retried on the schedule in a workflow of its own, then Sent", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      // The first message the server takes is refused after its data: its durable record is written.
      const script = finalReplies(server, ["451 4.3.0 try later\r\n"])
      const { service } = yield* outbox(script, { retry: Schedule.spaced("10 minutes") })
      const ids = yield* service.enqueueAll([1, 2, 3].map((n) => ({ mail: message(n) })))
      yield* settle
      const statuses = yield* Effect.forEach(ids, service.status)
      const pending = statuses.filter((status) => status._tag === "Pending")
      expect(pending).toHaveLength(1)
      expect(pending[0].attempts).toBe(1)
      yield* TestClock.adjust(Duration.minutes(10))
      yield* settle
      const retried = yield* service.status(pending[0].id)
      // Not Unknown: the retry is a new step, not the batch's step found in the record.
      expect(retried._tag).toBe("Sent")
      expect(retried.attempts).toBe(2)
      expect(server.received).toHaveLength(4)
    }))

  it.effect("a batch member whose attempt dies (a corrupt row) does not fail the batch: the others are Sent, it stays Pending, and the next start sends it", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const { filename } = yield* tempDatabase
      const ids = yield* Effect.scoped(Effect.gen(function*() {
        const { service, sql } = yield* outbox(server.script, {}, filename)
        const ids = yield* service.enqueueAll([1, 2, 3].map((n) => ({ mail: message(n) })))
        // Before the batch runs: the second row's options are no longer JSON, so reading its mail throws.
        yield* sql`UPDATE smtp_outbox_messages SET extra = '{not json' WHERE id = ${ids[1]}`
        yield* settle
        const statuses = yield* Effect.forEach(ids, service.status)
        expect(statuses.map((status) => status._tag)).toEqual(["Sent", "Pending", "Sent"])
        expect(received(server)).toEqual([message(1).content, message(3).content].sort())
        // Repaired while this runner still runs: nothing sends it before the next start.
        yield* sql`UPDATE smtp_outbox_messages SET extra = NULL WHERE id = ${ids[1]}`
        return ids
      }))
      // The next start on the same database: its sweep starts what is pending.
      const { service } = yield* outbox(server.script, {}, filename)
      yield* settle
      expect((yield* service.status(ids[1]))._tag).toBe("Sent")
      expect(received(server)).toEqual([1, 2, 3].map((n) => message(n).content).sort())
    }))

  it.effect("a batch counts its first attempt once for every member, except one whose record of that attempt is written (a crash after it): that one is parked Unknown, not counted again, not sent", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const { service, sql } = yield* outbox(server.script)
      const sendAt = DateTime.makeUnsafe((yield* Clock.currentTimeMillis) + 60_000)
      const ids = yield* service.enqueueAll([1, 2, 3].map((n) => ({ mail: message(n), sendAt })))
      // As a runner that crashed after the second member's durable record would have left it.
      yield* sql`UPDATE smtp_outbox_messages SET end_step = '0/1', attempts = 1 WHERE id = ${ids[1]}`
      yield* TestClock.adjust(Duration.minutes(1))
      yield* settle
      const statuses = yield* Effect.forEach(ids, service.status)
      expect(statuses.map((status) => [status._tag, status.attempts])).toEqual([["Sent", 1], ["Unknown", 1], [
        "Sent",
        1
      ]])
      const cut = statuses[1]
      if (cut._tag === "Unknown") {
        expect(cut.error._tag).toBe("AttemptCutError")
        if (cut.error._tag === "AttemptCutError") expect(cut.error.attempt).toBe(1)
      }
      expect(received(server)).toEqual([message(1).content, message(3).content].sort())
    }))

  it.effect("a rate-limited runner reserves one slot ahead at a time, not one per message waiting", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const { service, sql } = yield* outbox(server.script, {
        rateLimit: { messages: 1, interval: "1 second", jitter: 0 }
      })
      yield* service.enqueueAll([1, 2, 3, 4, 5].map((n) => ({ mail: message(n) })))
      yield* settle
      const now = yield* Clock.currentTimeMillis
      // Slots are 1 s apart: the first is used, the next is reserved and waited for; no more.
      const horizon = yield* sql<{ expires_at: number }>`SELECT MAX(expires_at) AS expires_at FROM smtp_outbox_limits`
      expect(Number(horizon[0].expires_at) - now).toBeLessThanOrEqual(2000)
      expect(server.received).toHaveLength(1)
      yield* TestClock.adjust(Duration.seconds(4))
      yield* settle
      expect(server.received).toHaveLength(5)
    }))

  it.effect("a messages table made before batches and bodies is migrated at start: its messages are sent and resent", () =>
    Effect.gen(function*() {
      const { filename } = yield* tempDatabase
      // The table as the outbox made it before batches, with a message stored.
      yield* Effect.scoped(Effect.gen(function*() {
        const sql = yield* SqliteClient.make({ filename })
        yield* sql.unsafe(`
          CREATE TABLE smtp_outbox_messages (
            id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE, generation INTEGER NOT NULL DEFAULT 0,
            mail_from TEXT NOT NULL, rcpt_to TEXT NOT NULL, content BLOB NOT NULL, message_id TEXT, extra TEXT,
            enqueued_at BIGINT NOT NULL, send_at BIGINT NOT NULL, state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at BIGINT, end_step TEXT, outcome TEXT,
            finished_at BIGINT, trace_id TEXT, span_id TEXT
          )
        `)
        yield* sql.unsafe(
          `INSERT INTO smtp_outbox_messages (id, mail_from, rcpt_to, content, enqueued_at, send_at, state)
           VALUES ('old-1', 'app@example.com', '["rcpt@example.com"]', ?, 0, 0, 'Pending')`,
          [new TextEncoder().encode(message(0).content)]
        )
        // A finished message keeps its bytes too: it can be sent again.
        yield* sql.unsafe(
          `INSERT INTO smtp_outbox_messages (id, mail_from, rcpt_to, content, enqueued_at, send_at, state, outcome)
           VALUES ('old-2', 'app@example.com', '["rcpt@example.com"]', ?, 0, 0, 'Unknown', ?)`,
          [
            new TextEncoder().encode(message(3).content),
            JSON.stringify({ _tag: "AttemptCutError", attempt: 1, recipients: ["rcpt@example.com"] })
          ]
        )
      })).pipe(Effect.provide(Reactivity.layer))
      const server = TestSocket.smtpServer()
      const { service, sql } = yield* outbox(server.script, {}, filename)
      yield* settle
      expect((yield* service.status("old-1"))._tag).toBe("Sent")
      // The bytes moved to the bodies table, and the column is gone.
      const columns = yield* sql<{ name: string }>`SELECT name FROM pragma_table_info('smtp_outbox_messages')`
      expect(columns.map((column) => column.name)).not.toContain("content")
      const moved = yield* sql<{ id: string }>`SELECT id FROM smtp_outbox_bodies ORDER BY id`
      expect(moved.map((row) => row.id)).toEqual(["old-1", "old-2"])
      yield* service.resend("old-2")
      const ids = yield* service.enqueueAll([{ mail: message(1) }, { mail: message(2) }])
      yield* settle
      for (const id of [...ids, "old-2"]) expect((yield* service.status(id))._tag).toBe("Sent")
      expect(received(server)).toEqual([0, 1, 2, 3].map((n) => message(n).content).sort())
    }))

  it.effect("concurrent single enqueues are stored together and sent once each", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer()
      const { service, sql } = yield* outbox(server.script)
      const ids = yield* Effect.forEach(
        Array.from({ length: 10 }, (_, n) => n),
        (n) => service.enqueue(message(n), { idempotencyKey: `k${n % 5}` }),
        { concurrency: "unbounded" }
      )
      // The same key gives the same id, within a group as across groups.
      for (let n = 0; n < 5; n++) expect(ids[n + 5]).toBe(ids[n])
      const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM smtp_outbox_messages`
      expect(rows[0].n).toBe(5)
      yield* settle
      expect(server.received).toHaveLength(5)
    }))
})
