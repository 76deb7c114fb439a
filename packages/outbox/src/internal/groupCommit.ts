import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Request from "effect/Request"
import * as RequestResolver from "effect/RequestResolver"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type { OutboxStoreError } from "../OutboxError.js"
import type { Durability } from "./durability.js"

/**
 * Group commit: the writes that attempts ask for while the previous group
 * is being committed run together in the next transaction, so they share
 * one commit (and on SQLite one fsync of the log) instead of one each.
 * On SQLite one group is written at a time: while its log is synced
 * (durability.ts; the event loop goes on meanwhile), the next group
 * gathers. On a database with a pool of connections, a few groups are
 * committed at once. Every caller returns only once its write is
 * committed, and a write that must be on disk (the durable record) only
 * once it is; if the transaction fails, every write in it fails (and is
 * retried by its caller, as a lone write would be). Reads are grouped too
 * (`shared`, `keyed`): concurrent callers share one query.
 */

interface Write {
  readonly statement: Effect.Effect<unknown, SqlError>
  /** Whether the caller waits for the write to be on disk, not only committed. */
  readonly durable: boolean
  readonly done: Deferred.Deferred<unknown, SqlError | OutboxStoreError>
}

/** @internal */
export type GroupCommit = <A>(
  statement: Effect.Effect<A, SqlError>,
  options?: { readonly durable?: boolean }
) => Effect.Effect<A, SqlError | OutboxStoreError>

/** Starts the writer (a fiber of the scope) and returns how to ask it for a write. @internal */
export const make = (
  sql: SqlClient.SqlClient,
  durability: Durability
): Effect.Effect<GroupCommit, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Write>()
    const commit = (group: ReadonlyArray<Write>) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(sql.withTransaction(Effect.forEach(group, (write) => write.statement)))
        if (Exit.isFailure(exit)) {
          for (const write of group) Deferred.doneUnsafe(write.done, Effect.failCause(exit.cause))
          return
        }
        for (let i = 0; i < group.length; i++) {
          if (!group[i].durable) Deferred.doneUnsafe(group[i].done, Effect.succeed(exit.value[i]))
        }
        if (!group.some((write) => write.durable)) return
        const synced = yield* Effect.exit(durability.sync)
        for (let i = 0; i < group.length; i++) {
          if (group[i].durable) {
            Deferred.doneUnsafe(
              group[i].done,
              Exit.isSuccess(synced) ? Effect.succeed(exit.value[i]) : Effect.failCause(synced.cause)
            )
          }
        }
      })
    // A group is what arrived while the writer waited for a turn to commit.
    const turns = yield* Semaphore.make(durability.groupsAtOnce)
    yield* Effect.forkScoped(Effect.forever(
      Effect.flatMap(
        Effect.andThen(turns.take(1), Queue.takeAll(queue)),
        (group) =>
          commit(group).pipe(
            // Interrupted (the outbox is stopping): no caller is left waiting on a write that will not end.
            Effect.ensuring(
              Effect.sync(() => group.forEach((write) => Deferred.doneUnsafe(write.done, Effect.interrupt)))
            ),
            Effect.ensuring(turns.release(1)),
            // A child of the writer, not of the scope: a scope that is
            // closing forks nothing, and attempts past their durable record
            // still write their outcome while the outbox stops (shield.ts).
            Effect.forkChild
          )
      )
    ))
    return <A>(statement: Effect.Effect<A, SqlError>, options?: { readonly durable?: boolean }) =>
      Effect.suspend(() => {
        const done = Deferred.makeUnsafe<unknown, SqlError | OutboxStoreError>()
        Queue.offerUnsafe(queue, { statement, durable: options?.durable === true, done })
        return Deferred.await(done) as Effect.Effect<A, SqlError | OutboxStoreError>
      })
  })

/**
 * A read that concurrent callers share: those who ask at about the same
 * moment get the answer of one query, made after all of them asked (never
 * an older one).
 *
 * @internal
 */
export const shared = <A, E>(read: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  interface Read extends Request.Request<A, E> {
    readonly _tag: "Read"
  }
  const Read = Request.of<Read>()
  const resolver = RequestResolver.make<Read>((entries) =>
    Effect.map(Effect.exit(read), (exit) => entries.forEach((entry) => entry.completeUnsafe(exit)))
  )
  return Effect.suspend(() => Effect.request(Read({ _tag: "Read" }), resolver))
}

/**
 * Reads by key that concurrent callers share: one query (`readAll`) for
 * every key asked for at about the same moment; a key it does not return
 * is `undefined`.
 *
 * @internal
 */
export const keyed = <A, E>(
  readAll: (keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, A>, E>
): (key: string) => Effect.Effect<A | undefined, E> => {
  interface Read extends Request.Request<A | undefined, E> {
    readonly key: string
  }
  const Read = Request.of<Read>()
  const resolver = RequestResolver.make<Read>((entries) =>
    Effect.map(
      Effect.exit(readAll([...new Set(entries.map((entry) => entry.request.key))])),
      (exit) =>
        entries.forEach((entry) =>
          entry.completeUnsafe(
            Exit.isSuccess(exit) ? Exit.succeed(exit.value.get(entry.request.key)) : Exit.failCause(exit.cause)
          )
        )
    )
  )
  return (key) => Effect.request(Read({ key }), resolver)
}
