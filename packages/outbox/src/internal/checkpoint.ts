import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as SqlClient from "effect/sql/SqlClient"
import { Worker } from "node:worker_threads"

/**
 * SQLite's checkpoints (copying the log back into the database file, with
 * an fsync of each) on a thread of their own. Left to SQLite, a checkpoint
 * runs inside whichever commit fills the log past 1,000 pages, on the event
 * loop: measured here at 3-7 ms each, about one every 200 messages, some 35
 * µs a message and a stall of every connection's replies each time. A
 * worker thread with a connection of its own checkpoints every 100 ms
 * instead (`PASSIVE`: it never waits for, nor holds up, the outbox's
 * writes), and the outbox's connection checkpoints only when the log grows
 * past 10,000 pages (40 MB), should the worker fall behind or stop.
 * Checkpoints copy only committed pages; they change nothing of when a
 * commit is durable (durability.ts).
 */

/** Pages in the log past which the outbox's own connection checkpoints, as SQLite would at 1,000. */
const fallbackPages = 10_000

/**
 * The worker, as source: a file beside this one would have to be found at
 * run time by every bundler and loader an application uses; a string runs
 * wherever `node:worker_threads` does.
 */
const source = `
const { parentPort, workerData } = require("node:worker_threads")
const { DatabaseSync } = require("node:sqlite")
const db = new DatabaseSync(workerData.filename)
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)")
parentPort.postMessage("ready")
const timer = setInterval(() => {
  try { checkpoint.get() } catch {}
}, workerData.every)
parentPort.on("message", () => {
  clearInterval(timer)
  db.close()
  parentPort.close()
})
`

/**
 * Starts the checkpointing thread for the database at `file` (a real path)
 * and leaves SQLite's own checkpoints as the fallback; stops it with the
 * scope, before the outbox's connection closes (the last connection to
 * close checkpoints what is left and removes the log). Nothing changes if
 * the thread cannot start.
 *
 * @internal
 */
export const inBackground = (
  sql: SqlClient.SqlClient,
  file: string
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const worker = yield* Effect.acquireRelease(
      Effect.sync(() => {
        try {
          return watch(new Worker(source, { eval: true, workerData: { filename: file, every: 100 } }))
        } catch {
          return undefined
        }
      }),
      (worker) => worker === undefined ? Effect.void : worker.stop
    )
    // Only once it runs (it opened the file) are SQLite's own checkpoints made the fallback.
    if (worker === undefined || !(yield* worker.ready)) return
    yield* sql.unsafe(`PRAGMA wal_autocheckpoint = ${fallbackPages}`).pipe(Effect.ignore)
  })

/** A started worker: whether it runs (false once it failed or exited), and how to stop it. */
const watch = (worker: Worker): { readonly ready: Effect.Effect<boolean>; readonly stop: Effect.Effect<void> } => {
  let exited = false
  const exit = new Promise<void>((resolve) =>
    worker.once("exit", () => {
      exited = true
      resolve()
    })
  )
  const ready = new Promise<boolean>((resolve) => {
    worker.once("message", () => resolve(true))
    worker.once("error", () => resolve(false))
    void exit.then(() => resolve(false))
  }).then((ready) => {
    // Once it runs, not a reason for the process to stay up; until then it is
    // (the outbox waits for it, and nothing else may be keeping the process up).
    worker.unref()
    return ready
  })
  return {
    ready: Effect.promise(() => ready),
    stop: Effect.promise(() => {
      if (!exited) worker.postMessage("stop")
      return exit
    })
  }
}
