import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Request from "effect/Request"
import * as RequestResolver from "effect/RequestResolver"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

/**
 * Group commit: the writes that concurrent attempts ask for at about the
 * same moment (until the runtime next yields) run in one transaction, so
 * they share one commit (one fsync on SQLite) instead of one each. Every
 * caller still returns only once its write is committed; if the
 * transaction fails, every write in it fails (and is retried by its caller,
 * as a lone write would be). Reads are grouped the same way (`shared`,
 * `keyed`): concurrent callers share one query.
 */

interface Write extends Request.Request<unknown, SqlError> {
  readonly statement: Effect.Effect<unknown, SqlError>
}
const Write = Request.of<Write>()

/** @internal */
export type GroupCommit = <A>(statement: Effect.Effect<A, SqlError>) => Effect.Effect<A, SqlError>

/** @internal */
export const make = (sql: SqlClient.SqlClient): GroupCommit => {
  const resolver = RequestResolver.make<Write>((entries) =>
    sql.withTransaction(Effect.forEach(entries, (entry) => entry.request.statement)).pipe(
      Effect.exit,
      Effect.map((exit) =>
        entries.forEach((entry, i) =>
          entry.completeUnsafe(Exit.isSuccess(exit) ? Exit.succeed(exit.value[i]) : Exit.failCause(exit.cause))
        )
      )
    )
  )
  return <A>(statement: Effect.Effect<A, SqlError>) =>
    Effect.request(Write({ statement }), resolver) as Effect.Effect<A, SqlError>
}

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
