import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as SqlClient from "effect/sql/SqlClient"
import * as fs from "node:fs"
import * as path from "node:path"
import { OutboxStoreError } from "../OutboxError.js"
import * as Checkpoint from "./checkpoint.js"

/**
 * When a commit is on disk: on SQLite, after an fsync of the log run off the
 * event loop and shared by every commit before it; elsewhere, when it
 * returns. On PostgreSQL (and any database but the outbox's
 * own SQLite) a commit is durable when it returns, and the database server
 * waits for its disk, not us. On SQLite, `node:sqlite` is synchronous: a
 * commit that waits for its fsync (`synchronous = FULL`) holds the event
 * loop for the whole fsync (275-295 µs here), and nothing else runs, not
 * even the replies of the other connections.
 *
 * So on SQLite in WAL mode the outbox commits with `synchronous = NORMAL`
 * (the commit writes the log, no fsync: safe from corruption, but the last
 * commits may be lost in a power cut) and makes durable what must be, the
 * durable record before the end of a message and a stored message before
 * `enqueue` returns, with an fsync of the log file of its own, run on
 * libuv's threads while the event loop goes on. The log is written in
 * order, so one fsync makes every commit before it durable: those that wait
 * for the same fsync share it (group commit), and a write that does not
 * wait (an outcome, the engine's own steps) is durable by the next one, as
 * it is in the log before anything written after it. What a power cut can
 * lose is a suffix of commits nobody waited for, the same as a crash a
 * moment earlier, which the outbox recovers from.
 */

/** @internal */
export interface Durability {
  /** Returns once every commit made before the call is on disk. */
  readonly sync: Effect.Effect<void, OutboxStoreError>
  /**
   * How many groups of writes may be committed at once (groupCommit.ts).
   * One on SQLite's one connection, where the next group gathers while the
   * log is synced; several on a database with a pool of connections, where
   * each commit waits for the server's own fsync and a group waiting for
   * the one before it would leave connections idle.
   */
  readonly groupsAtOnce: number
}

/**
 * Commits are durable when they return: nothing to wait for. Eight groups
 * at once, within the ten connections of `@effect/sql-pg`'s default pool.
 *
 * @internal
 */
export const immediate: Durability = { sync: Effect.void, groupsAtOnce: 8 }

/** What the store waits on; `immediate` unless the SQLite layer provides the log's own fsync. @internal */
export const CurrentDurability = Context.Reference<Durability>("@effect-smtp/outbox/Durability", {
  defaultValue: () => immediate
})

const fsyncError = (cause: unknown) =>
  new OutboxStoreError({ operation: "writing the SQLite log to disk (fsync)", cause })

/**
 * One sync at a time (`sync` calls back once the log is on disk); a caller
 * who arrives while one runs waits for the next, which starts when that one
 * ends and covers every caller who arrived meanwhile: the running one may
 * have started before their commit.
 *
 * @internal
 */
export const syncGroup = (sync: (done: (error: unknown) => void) => void): Durability => {
  let running = false
  let next: Deferred.Deferred<void, OutboxStoreError> | undefined = undefined
  const run = (done: Deferred.Deferred<void, OutboxStoreError>) => {
    running = true
    sync((error) => {
      running = false
      Deferred.doneUnsafe(done, error === null || error === undefined ? Effect.void : Effect.fail(fsyncError(error)))
      if (next !== undefined) {
        const waiting = next
        next = undefined
        run(waiting)
      }
    })
  }
  return {
    groupsAtOnce: 1,
    sync: Effect.suspend(() => {
      if (next === undefined) {
        next = Deferred.makeUnsafe<void, OutboxStoreError>()
        if (!running) {
          const done = next
          next = undefined
          run(done)
          return Deferred.await(done)
        }
      }
      return Deferred.await(next)
    })
  }
}

/**
 * Opens the database's log (`<file>-wal`, beside the file a symbolic link
 * points to, where SQLite keeps it), making it if no write has made it yet:
 * SQLite opens the same file (an empty log is an empty log). Undefined when
 * it cannot (a URI or a path SQLite reads otherwise): SQLite's own fsync
 * stays then.
 */
const openLog = (filename: string): number | undefined => {
  if (filename === "" || filename === ":memory:" || filename.startsWith("file:")) return undefined
  try {
    const file = fs.realpathSync(filename)
    return fs.openSync(`${file}-wal`, fs.constants.O_RDWR | fs.constants.O_CREAT, fs.statSync(file).mode & 0o777)
  } catch {
    return undefined
  }
}

/**
 * Sets up the log's own fsync on a SQLite database in WAL mode, and switches
 * its connection to `synchronous = NORMAL`. A database not in WAL mode (in
 * memory, or where WAL could not be enabled), or whose log cannot be
 * opened, keeps SQLite's own fsync on every commit (`immediate`).
 *
 * @internal
 */
export const sqliteWal = (
  sql: SqlClient.SqlClient,
  filename: string
): Effect.Effect<Durability, never, Scope.Scope> =>
  Effect.gen(function*() {
    const mode = yield* sql.unsafe<{ journal_mode: string }>("PRAGMA journal_mode").pipe(
      Effect.map((rows) => rows[0]?.journal_mode),
      Effect.orElseSucceed(() => undefined)
    )
    if (mode !== "wal") return immediate
    const fd = yield* Effect.acquireRelease(
      Effect.sync(() => openLog(filename)),
      (fd) => Effect.sync(() => fd === undefined ? undefined : fs.closeSync(fd))
    )
    if (fd === undefined) return immediate
    // The log's directory entry, once, so that a log made just now survives a power cut too.
    yield* Effect.sync(() => {
      try {
        const dir = fs.openSync(path.dirname(fs.realpathSync(filename)), "r")
        try {
          fs.fsyncSync(dir)
        } finally {
          fs.closeSync(dir)
        }
      } catch {
        // Not every platform can fsync a directory (Windows cannot); the log itself is still synced.
      }
    })
    const switched = yield* sql.unsafe("PRAGMA synchronous = NORMAL").pipe(
      Effect.as(true),
      Effect.orElseSucceed(() => false)
    )
    if (!switched) return immediate
    yield* Checkpoint.inBackground(sql, fs.realpathSync(filename))
    // fdatasync: the log's data and its size, not its times (SQLite's own choice on Linux).
    return syncGroup((done) => fs.fdatasync(fd, done))
  })
