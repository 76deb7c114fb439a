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
 * as a lone write would be).
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
