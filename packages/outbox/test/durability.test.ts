/**
 * When a commit is on disk (src/internal/durability.ts) and the writer that
 * groups commits (src/internal/groupCommit.ts): a caller who must wait for
 * the disk is never answered by a sync that started before it asked, the
 * log synced is the one SQLite writes, and the SQLite connection leaves
 * fsync to the outbox only when the outbox can do it.
 */
import { effectProp, fc } from "@effect-smtp/test-utils/property"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as SqlClient from "effect/sql/SqlClient"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Durability from "../src/internal/durability.js"
import * as GroupCommit from "../src/internal/groupCommit.js"
import * as Store from "../src/internal/store.js"
import { OutboxStoreError } from "../src/OutboxError.js"
import { tempDatabase } from "./utils/memory.js"

/** A SQLite connection that lives as long as the test's scope. */
const sqlite = (filename: string) => SqliteClient.make({ filename }).pipe(Effect.provide(Reactivity.layer))

/** Lets forked fibers run up to their next wait. */
const settle = Effect.forEach(Array.from({ length: 8 }), () => Effect.yieldNow, { discard: true })

const synchronousOf = (sql: SqlClient.SqlClient) =>
  Effect.map(sql.unsafe<{ synchronous: number }>("PRAGMA synchronous"), (rows) => Number(rows[0].synchronous))

describe("syncGroup", () => {
  effectProp(
    "property: whatever the order of calls and finished syncs, a caller returns only after a sync that started after its call, one sync runs at a time, and every caller returns once the syncs finish",
    { steps: fc.array(fc.constantFrom("call", "call", "finish", "fail"), { maxLength: 40 }) },
    ({ steps }) =>
      Effect.gen(function*() {
        // One counter orders calls and the starts of syncs.
        let clock = 0
        const running: Array<{ readonly startedAt: number; readonly done: (error: unknown) => void }> = []
        let newestFinishedStart = -1
        let mostRunning = 0
        const group = Durability.syncGroup((done) => {
          running.push({ startedAt: clock++, done })
          mostRunning = Math.max(mostRunning, running.length)
        })
        const finish = (error: unknown) => {
          const sync = running.shift()
          if (sync === undefined) return
          newestFinishedStart = Math.max(newestFinishedStart, sync.startedAt)
          sync.done(error)
        }
        const violations: Array<string> = []
        const callers: Array<Fiber.Fiber<void, unknown>> = []
        for (const step of steps) {
          if (step === "call") {
            const calledAt = clock++
            callers.push(
              yield* group.sync.pipe(
                Effect.ensuring(Effect.sync(() => {
                  if (newestFinishedStart <= calledAt) {
                    violations.push(`the caller of ${calledAt} returned before any sync started after it finished`)
                  }
                })),
                Effect.forkChild
              )
            )
          } else {
            finish(step === "fail" ? new Error("EIO") : null)
          }
          yield* settle
        }
        // Every sync still to run finishes: no caller is left waiting.
        for (let n = 0; running.length > 0 && n < 100; n++) {
          finish(null)
          yield* settle
        }
        const exits = yield* Effect.forEach(callers, Fiber.await)
        expect(violations).toEqual([])
        expect(mostRunning).toBeLessThanOrEqual(1)
        for (const exit of exits) {
          if (Exit.isFailure(exit)) expect(String(exit.cause)).toContain("fsync")
        }
      })
  )

  it.effect("callers who arrive while a sync runs share the next one", () =>
    Effect.gen(function*() {
      const started: Array<(error: unknown) => void> = []
      const group = Durability.syncGroup((done) => started.push(done))
      const first = yield* Effect.forkChild(group.sync)
      yield* settle
      const waiting = yield* Effect.forEach(Array.from({ length: 5 }), () => Effect.forkChild(group.sync))
      yield* settle
      expect(started.length).toBe(1)
      started[0](null)
      yield* settle
      expect(started.length).toBe(2)
      started[1](null)
      yield* Fiber.join(first)
      yield* Effect.forEach(waiting, Fiber.join)
      expect(started.length).toBe(2)
    }))
})

describe("sqliteWal", () => {
  it.effect("on a file in WAL mode: the connection stops syncing each commit and the outbox syncs the log SQLite writes", () =>
    Effect.gen(function*() {
      const { dir } = yield* tempDatabase
      // Through a symbolic link: SQLite keeps the log beside the file the link points to.
      const target = path.join(dir, "target.sqlite")
      const link = path.join(dir, "link.sqlite")
      fs.writeFileSync(target, "")
      fs.symlinkSync(target, link)
      const sql = yield* sqlite(link)
      const durability = yield* Durability.sqliteWal(sql, link)
      expect(durability).not.toBe(Durability.immediate)
      expect(yield* synchronousOf(sql)).toBe(1)
      yield* sql`CREATE TABLE t (v TEXT)`
      yield* sql`INSERT INTO t (v) VALUES ('x')`
      yield* durability.sync
      expect(fs.statSync(`${target}-wal`).size).toBeGreaterThan(0)
      expect(fs.existsSync(`${link}-wal`)).toBe(false)
    }).pipe(Effect.scoped))

  it.live("checkpoints run on a thread of their own: committed pages reach the database file while the outbox's connection leaves checkpoints to it below 10,000 pages", () =>
    Effect.gen(function*() {
      const { filename } = yield* tempDatabase
      const sql = yield* sqlite(filename)
      yield* Durability.sqliteWal(sql, filename)
      const autocheckpoint = yield* sql.unsafe<{ wal_autocheckpoint: number }>("PRAGMA wal_autocheckpoint")
      expect(Number(autocheckpoint[0].wal_autocheckpoint)).toBe(10_000)
      yield* sql`CREATE TABLE t (v TEXT)`
      const before = fs.statSync(filename).size
      // About 25 pages: far below either threshold, so only the thread copies them into the file.
      yield* sql.withTransaction(
        Effect.forEach(Array.from({ length: 100 }), () => sql`INSERT INTO t (v) VALUES (${"x".repeat(1000)})`)
      )
      let size = before
      for (let n = 0; n < 60 && size <= before + 50_000; n++) {
        yield* Effect.sleep("50 millis")
        size = fs.statSync(filename).size
      }
      expect(size).toBeGreaterThan(before + 50_000)
    }).pipe(Effect.scoped))

  it.effect("in memory: SQLite's own fsync stays (FULL) and nothing is waited for", () =>
    Effect.gen(function*() {
      const sql = yield* sqlite(":memory:")
      const before = yield* synchronousOf(sql)
      const durability = yield* Durability.sqliteWal(sql, ":memory:")
      expect(durability).toBe(Durability.immediate)
      expect(yield* synchronousOf(sql)).toBe(before)
    }).pipe(Effect.scoped))
})

describe("GroupCommit.make", () => {
  const withWriter = Effect.gen(function*() {
    const { filename } = yield* tempDatabase
    const sql = yield* sqlite(filename)
    yield* sql`CREATE TABLE t (v INTEGER)`
    const gate = yield* Deferred.make<void>()
    let syncs = 0
    const durability: Durability.Durability = {
      sync: Effect.andThen(Effect.sync(() => syncs++), Deferred.await(gate)),
      groupsAtOnce: 1
    }
    const write = yield* GroupCommit.make(sql, durability)
    return { sql, gate, write, syncs: () => syncs }
  })

  it.effect("a durable write returns only once the log is synced; a plain one once committed", () =>
    Effect.gen(function*() {
      const { gate, sql, syncs, write } = yield* withWriter
      const durable = yield* Effect.forkChild(write(sql`INSERT INTO t (v) VALUES (1)`, { durable: true }))
      const plain = yield* Effect.forkChild(write(sql`INSERT INTO t (v) VALUES (2)`))
      yield* Fiber.join(plain)
      yield* settle
      expect(syncs()).toBe(1)
      expect(durable.pollUnsafe()).toBeUndefined()
      // Committed (a reader sees it) though not yet reported durable.
      expect((yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM t`)[0].n).toBe(2)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(durable)
    }).pipe(Effect.scoped))

  it.effect("writes asked for while a group is being synced share the next transaction: one failing fails them all, and the writer goes on", () =>
    Effect.gen(function*() {
      const { gate, sql, write } = yield* withWriter
      const count = Effect.map(sql<{ n: number }>`SELECT COUNT(*) AS n FROM t`, (rows) => Number(rows[0].n))
      const first = yield* Effect.forkChild(write(sql`INSERT INTO t (v) VALUES (0)`, { durable: true }))
      yield* settle
      const next = yield* Effect.forEach(
        [sql`INSERT INTO t (v) VALUES (1)`, sql`INSERT INTO missing (v) VALUES (2)`, sql`INSERT INTO t (v) VALUES (3)`],
        (statement) => Effect.forkChild(write(statement))
      )
      yield* settle
      // Still waiting: the writer is syncing the first group.
      expect(next.map((fiber) => fiber.pollUnsafe())).toEqual([undefined, undefined, undefined])
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      const exits = yield* Effect.forEach(next, Fiber.await)
      // Written one transaction each, the first and the last would have been committed.
      expect(exits.map(Exit.isFailure)).toEqual([true, true, true])
      expect(yield* count).toBe(1)
      yield* write(sql`INSERT INTO t (v) VALUES (4)`)
      expect(yield* count).toBe(2)
    }).pipe(Effect.scoped))
})

describe("Store.make, when the disk does not confirm", () => {
  it.effect("a stored message the disk did not confirm fails the enqueue, saying it may be stored and how to store it again safely", () =>
    Effect.gen(function*() {
      const { filename } = yield* tempDatabase
      const sql = yield* sqlite(filename)
      const failing: Durability.Durability = {
        sync: Effect.fail(
          new OutboxStoreError({ operation: "writing the SQLite log to disk (fsync)", cause: new Error("EIO") })
        ),
        groupsAtOnce: 1
      }
      const store = yield* Store.make("t").pipe(
        Effect.provideService(SqlClient.SqlClient, sql),
        Effect.provideService(Durability.CurrentDurability, failing)
      )
      const error = yield* Effect.flip(store.insertAll([{
        id: "m1",
        idempotencyKey: "k1",
        from: "a@example.com",
        to: ["b@example.com"],
        content: new Uint8Array([65]),
        messageId: undefined,
        extra: undefined,
        enqueuedAt: 0,
        sendAt: 0,
        traceId: undefined,
        spanId: undefined,
        batch: undefined
      }]))
      expect(error.message).toContain("possibly stored")
      expect(error.message).toContain("same idempotency key")
      expect(error.message).toContain("EIO")
      // Committed: the same key again stores nothing twice.
      const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM t_messages`
      expect(Number(rows[0].n)).toBe(1)
    }).pipe(Effect.scoped))
})
