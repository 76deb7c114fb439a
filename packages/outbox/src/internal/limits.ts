import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RateLimiter from "effect/persistence/RateLimiter"
import * as SqlClient from "effect/sql/SqlClient"
import { OutboxStoreError } from "../OutboxError.js"
import { adaptiveConsumeStep, adaptiveFeedbackStep, type AdaptiveState } from "./adaptive.js"
import { createTables } from "./tables.js"

/**
 * The rate limit every runner shares through the database: a
 * `RateLimiterStore` of `effect/persistence/RateLimiter` on SQL, so the
 * limit holds for the whole cluster, not per process. Its tables also hold
 * the shared pause (`pause.ts`); how an adaptive limit moves is `adaptive.ts`.
 */

interface CounterRow {
  readonly count: number | string
  readonly expires_at: number | string
}

const storeFailure = (operation: string) => (cause: unknown) =>
  new RateLimiter.RateLimiterError({
    reason: new RateLimiter.RateLimitStoreError({ message: `The outbox's rate-limit store failed ${operation}`, cause })
  })

interface AdaptiveRow {
  readonly phase: RateLimiter.AdaptivePhase
  readonly epoch: number | string
  readonly cooldown_until: number | string
  readonly learning_started_at: number | string
  readonly observed_tokens: number | string
  readonly learned_limit: number | string
  readonly learned_window_millis: number | string
  readonly expires_at: number | string
}

const fromAdaptiveRow = (row: AdaptiveRow): AdaptiveState => ({
  phase: row.phase,
  epoch: Number(row.epoch),
  cooldownUntil: Number(row.cooldown_until),
  learningStartedAt: Number(row.learning_started_at),
  observedTokens: Number(row.observed_tokens),
  learnedLimit: Number(row.learned_limit),
  learnedWindowMillis: Number(row.learned_window_millis),
  expiresAt: Number(row.expires_at)
})

/** The rate-limit tables, made once per database. */
const makeTables = (sql: SqlClient.SqlClient, prefix: string) =>
  createTables(
    sql,
    `CREATE TABLE IF NOT EXISTS ${prefix}_limits (
      key TEXT PRIMARY KEY,
      count BIGINT NOT NULL,
      expires_at BIGINT NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS ${prefix}_adaptive (
      key TEXT PRIMARY KEY,
      phase TEXT NOT NULL,
      epoch DOUBLE PRECISION NOT NULL,
      cooldown_until DOUBLE PRECISION NOT NULL,
      learning_started_at DOUBLE PRECISION NOT NULL,
      observed_tokens DOUBLE PRECISION NOT NULL,
      learned_limit DOUBLE PRECISION NOT NULL,
      learned_window_millis DOUBLE PRECISION NOT NULL,
      expires_at DOUBLE PRECISION NOT NULL
    )`
  ).pipe(Effect.mapError((cause) => new OutboxStoreError({ operation: "creating the rate-limit tables", cause })))

/** The counter as it stands (an expired one counts as empty): what taking `tokens` would make it, and its ttl. */
const overLimit = (sql: SqlClient.SqlClient, prefix: string, key: string, tokens: number, now: number) =>
  Effect.map(
    sql<CounterRow>`SELECT count, expires_at FROM ${sql(`${prefix}_limits`)} WHERE key = ${key}`,
    (rows) => {
      const expiresAt = rows.length === 0 ? now : Number(rows[0].expires_at)
      return expiresAt <= now
        ? [tokens, 0] as const
        : [Number(rows[0].count) + tokens, expiresAt - now] as const
    }
  )

/** A fixed window: the semantics of Effect's memory store, each change in one statement. */
const fixedWindow = (sql: SqlClient.SqlClient, prefix: string) => {
  const table = sql(`${prefix}_limits`)
  return (options: Parameters<RateLimiter.RateLimiterStore["Service"]["fixedWindow"]>[0]) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const refillRate = Duration.toMillis(options.refillRate)
      // Nothing can ever be taken: the counter is left as it is.
      if (options.limit !== undefined && options.tokens > options.limit) {
        return yield* overLimit(sql, prefix, options.key, options.tokens, now)
      }
      const expired = sql`${table}.expires_at <= ${now}`
      const next = sql`CASE WHEN ${expired} THEN ${options.tokens} ELSE ${table}.count + ${options.tokens} END`
      // Whole milliseconds (BIGINT), rounded up: never faster than asked.
      // Unlimited, every token taken extends the window; limited, the
      // first positive admission opens one window of `limit` tokens.
      const extend = Math.ceil(refillRate * options.tokens)
      const opened = options.tokens > 0 && options.limit !== undefined
        ? now + Math.ceil(refillRate * options.limit)
        : now
      const rows = yield* (options.limit === undefined
        ? sql<CounterRow>`
            INSERT INTO ${table} (key, count, expires_at) VALUES (${options.key}, ${options.tokens}, ${now + extend})
            ON CONFLICT (key) DO UPDATE SET
              count = ${next},
              expires_at = CASE WHEN ${expired} THEN ${now} ELSE ${table}.expires_at END + ${extend}
            RETURNING count, expires_at
          `
        : sql<CounterRow>`
            INSERT INTO ${table} (key, count, expires_at) VALUES (${options.key}, ${options.tokens}, ${opened})
            ON CONFLICT (key) DO UPDATE SET
              count = ${next},
              expires_at = CASE WHEN ${expired} THEN ${opened} ELSE ${table}.expires_at END
            WHERE ${next} <= ${options.limit}
            RETURNING count, expires_at
          `)
      if (rows.length > 0) return [Number(rows[0].count), Number(rows[0].expires_at) - now] as const
      // Over the limit: nothing taken; report what taking would have made.
      return yield* overLimit(sql, prefix, options.key, options.tokens, now)
    }).pipe(Effect.mapError(storeFailure("taking from a fixed window")))
}

/** Runs `f` on a key's live adaptive state with no other runner changing that key meanwhile. */
const withAdaptiveState = (sql: SqlClient.SqlClient, prefix: string) => {
  const adaptive = sql(`${prefix}_adaptive`)
  return <A>(
    key: string,
    f: (state: AdaptiveState | undefined, now: number) => readonly [A, AdaptiveState | undefined]
  ) =>
    sql.withTransaction(Effect.gen(function*() {
      // PostgreSQL: a lock on the key, held to the commit (an absent row has nothing to lock).
      // SQLite: the client's transactions are exclusive already (BEGIN IMMEDIATE, one connection).
      yield* sql.onDialectOrElse({
        pg: () => sql`SELECT pg_advisory_xact_lock(hashtext(${`${prefix}_adaptive/${key}`}))`,
        orElse: () => Effect.void
      })
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql<AdaptiveRow>`SELECT * FROM ${adaptive} WHERE key = ${key}`
      const current = rows.length === 0 ? undefined : fromAdaptiveRow(rows[0])
      const [result, next] = f(current !== undefined && current.expiresAt > now ? current : undefined, now)
      if (next !== undefined) {
        const values = {
          phase: next.phase,
          epoch: next.epoch,
          cooldown_until: next.cooldownUntil,
          learning_started_at: next.learningStartedAt,
          observed_tokens: next.observedTokens,
          learned_limit: next.learnedLimit,
          learned_window_millis: next.learnedWindowMillis,
          expires_at: next.expiresAt
        }
        yield* sql`
          INSERT INTO ${adaptive} ${sql.insert({ key, ...values })}
          ON CONFLICT (key) DO UPDATE SET ${sql.update(values)}
        `
      } else if (current !== undefined && current.expiresAt <= now) {
        // Expired state is as good as none; the memory store drops it too.
        yield* sql`DELETE FROM ${adaptive} WHERE key = ${key} AND expires_at <= ${now}`
      }
      return result
    }))
}

/**
 * A `RateLimiterStore` on SQL (PostgreSQL or SQLite), so runners on one
 * database share one counter: a fixed window is one atomic upsert of a row
 * of `<prefix>_limits`; the adaptive state (a row of `<prefix>_adaptive`)
 * is read and written in one transaction per call. Token buckets are not
 * implemented (the outbox spaces its starts with a fixed window). Times are
 * Effect's Clock, so every runner's clock must agree (NTP).
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
      yield* makeTables(sql, prefix)
      const adaptiveState = withAdaptiveState(sql, prefix)
      return RateLimiter.RateLimiterStore.of({
        fixedWindow: fixedWindow(sql, prefix),
        tokenBucket: () =>
          Effect.fail(
            new RateLimiter.RateLimiterError({
              reason: new RateLimiter.RateLimitStoreError({
                message: "The outbox's SQL rate-limit store implements fixed windows only, not token buckets"
              })
            })
          ),
        adaptiveConsume: (options) =>
          adaptiveState(options.key, (state, now) => adaptiveConsumeStep(state, options, now)).pipe(
            Effect.mapError(storeFailure("taking from an adaptive limit"))
          ),
        adaptiveFeedback: (options) =>
          adaptiveState(options.key, (state, now) => [undefined, adaptiveFeedbackStep(state, options, now)]).pipe(
            Effect.asVoid,
            Effect.mapError(storeFailure("recording a server's feedback for an adaptive limit"))
          )
      })
    })
  )
