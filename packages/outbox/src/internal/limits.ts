import * as RateLimiter from "effect/persistence/RateLimiter"
import * as SqlClient from "effect/sql/SqlClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { OutboxStoreError } from "../OutboxError.js"
import { createTables } from "./store.js"

/**
 * What every runner shares through the database: the rate limit's counter
 * (a `RateLimiterStore` of `@effect/experimental`, so the limit holds for
 * the whole cluster, not per process) and the client-wide pause after a
 * "too many" reply.
 */

interface CounterRow {
  readonly count: number | string
  readonly expires_at: number | string
}

const storeFailure = (operation: string) => (cause: unknown) =>
  new RateLimiter.RateLimitStoreError({ message: `The outbox's rate-limit store failed ${operation}`, cause })

/**
 * A `RateLimiterStore` on SQL (PostgreSQL or SQLite): one row per key, each
 * change one atomic upsert, so runners on one database share one counter.
 * Times are Effect's Clock, so every runner's clock must agree (NTP).
 *
 * @internal
 */
export const layerRateLimiterStore = (prefix: string): Layer.Layer<
  RateLimiter.RateLimiterStore,
  OutboxStoreError,
  SqlClient.SqlClient
> =>
  Layer.effect(
    RateLimiter.RateLimiterStore,
    Effect.gen(function*() {
      const sql = (yield* SqlClient.SqlClient).withoutTransforms()
      const table = sql(`${prefix}_limits`)
      yield* createTables(
        sql,
        `CREATE TABLE IF NOT EXISTS ${prefix}_limits (
          key TEXT PRIMARY KEY,
          count BIGINT NOT NULL,
          expires_at BIGINT NOT NULL
        )`
      ).pipe(Effect.mapError((cause) => new OutboxStoreError({ operation: "creating the rate-limit table", cause })))

      return RateLimiter.RateLimiterStore.of({
        // The semantics of @effect/experimental's memory store, in one statement.
        fixedWindow: (options) =>
          Effect.gen(function*() {
            const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
            // Whole milliseconds (BIGINT), rounded up: never faster than asked.
            const refill = Math.ceil(Duration.toMillis(options.refillRate) * options.tokens)
            const expired = sql`${table}.expires_at <= ${now}`
            const next = sql`CASE WHEN ${expired} THEN ${options.tokens} ELSE ${table}.count + ${options.tokens} END`
            const limited = options.limit === undefined ? sql`` : sql`WHERE ${next} <= ${options.limit}`
            const rows = yield* sql<CounterRow>`
              INSERT INTO ${table} (key, count, expires_at) VALUES (${options.key}, ${options.tokens}, ${now + refill})
              ON CONFLICT (key) DO UPDATE SET
                count = ${next},
                expires_at = CASE WHEN ${expired} THEN ${now} ELSE ${table}.expires_at END + ${refill}
              ${limited}
              RETURNING count, expires_at
            `
            if (rows.length > 0) return [Number(rows[0].count), Number(rows[0].expires_at) - now] as const
            // Over the limit: nothing taken; report what taking would have made.
            const current = yield* sql<CounterRow>`SELECT count, expires_at FROM ${table} WHERE key = ${options.key}`
            return [
              Number(current[0]?.count ?? 0) + options.tokens,
              Number(current[0]?.expires_at ?? now) - now
            ] as const
          }).pipe(Effect.mapError(storeFailure("taking from a fixed window"))),
        tokenBucket: () =>
          Effect.fail(
            new RateLimiter.RateLimitStoreError({
              message: "The outbox's SQL rate-limit store implements fixed-window only"
            })
          )
      })
    })
  )

/**
 * The pause every runner honours after a "too many" reply: the time until
 * which no message is sent, kept in the limits table under its own key.
 *
 * @internal
 */
export interface Pause {
  /** Milliseconds since the epoch until which sends wait (0 when never paused). */
  readonly until: Effect.Effect<number, OutboxStoreError>
  /** Extends the pause to `until` (never shortens it). */
  readonly extend: (until: number) => Effect.Effect<void, OutboxStoreError>
}

const pauseKey = "smtp-outbox/pause"

/** @internal */
export const makePause = (prefix: string): Effect.Effect<Pause, never, SqlClient.SqlClient> =>
  Effect.map(SqlClient.SqlClient, (client) => {
    const sql = client.withoutTransforms()
    const table = sql(`${prefix}_limits`)
    return {
      until: sql<{ expires_at: number | string }>`SELECT expires_at FROM ${table} WHERE key = ${pauseKey}`.pipe(
        Effect.map((rows) => rows.length === 0 ? 0 : Number(rows[0].expires_at)),
        Effect.mapError((cause) => new OutboxStoreError({ operation: "reading the shared pause", cause }))
      ),
      extend: (until) =>
        sql`
          INSERT INTO ${table} (key, count, expires_at) VALUES (${pauseKey}, 0, ${until})
          ON CONFLICT (key) DO UPDATE SET expires_at = CASE
            WHEN ${table}.expires_at < ${until} THEN ${until} ELSE ${table}.expires_at END
        `.pipe(
          Effect.asVoid,
          Effect.mapError((cause) => new OutboxStoreError({ operation: "extending the shared pause", cause }))
        )
    }
  })
