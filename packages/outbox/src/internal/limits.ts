import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RateLimiter from "effect/persistence/RateLimiter"
import * as SqlClient from "effect/sql/SqlClient"
import { OutboxStoreError } from "../OutboxError.js"
import { createTables } from "./store.js"

/**
 * What every runner shares through the database: the rate limit's counter
 * (a `RateLimiterStore` of `effect/persistence/RateLimiter`, so the limit
 * holds for the whole cluster, not per process) and the client-wide pause
 * after a "too many" reply.
 */

interface CounterRow {
  readonly count: number | string
  readonly expires_at: number | string
}

const storeFailure = (operation: string) => (cause: unknown) =>
  new RateLimiter.RateLimiterError({
    reason: new RateLimiter.RateLimitStoreError({ message: `The outbox's rate-limit store failed ${operation}`, cause })
  })

/**
 * The adaptive state of one key, as Effect's memory store keeps it: a row of
 * `<prefix>_adaptive`. Times are milliseconds since the epoch, kept as
 * doubles because a learned rate spaces requests by fractions of one.
 */
interface AdaptiveState {
  readonly phase: RateLimiter.AdaptivePhase
  readonly epoch: number
  readonly cooldownUntil: number
  readonly learningStartedAt: number
  readonly observedTokens: number
  readonly learnedLimit: number
  readonly learnedWindowMillis: number
  readonly expiresAt: number
}

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

// The constants of Effect's memory store: the same key behaves the same on either store.
const adaptiveStateTtlGraceMillis = 60_000
const adaptiveStateMaxWindowMillis = 60 * 60 * 1_000

const clampAdaptiveDurationMillis = (millis: number): number => {
  if (Number.isNaN(millis) || millis <= 0) return 1
  return Math.min(millis, adaptiveStateMaxWindowMillis)
}

const cooldown = (cooldownUntil: number, epoch: number): AdaptiveState => ({
  phase: "cooldown",
  epoch,
  cooldownUntil,
  learningStartedAt: 0,
  observedTokens: 0,
  learnedLimit: 0,
  learnedWindowMillis: 0,
  expiresAt: cooldownUntil + adaptiveStateTtlGraceMillis
})

/**
 * One `adaptiveConsume` on a key's live state (undefined when it has none):
 * what to answer and the state to store (undefined: leave it as it is).
 * Step for step the transitions of Effect's memory store.
 *
 * @internal
 */
export const adaptiveConsumeStep = (
  state: AdaptiveState | undefined,
  options: RateLimiter.AdaptiveConsumeOptions,
  now: number
): readonly [RateLimiter.AdaptiveConsumeResult, AdaptiveState | undefined] => {
  if (state === undefined) return [{ delay: Duration.zero, epoch: 0, phase: "inactive" }, undefined]
  switch (state.phase) {
    case "cooldown": {
      if (state.cooldownUntil > now) {
        return [{ delay: Duration.millis(state.cooldownUntil - now), epoch: state.epoch, phase: "cooldown" }, undefined]
      }
      const learning: AdaptiveState = {
        ...state,
        phase: "learning",
        epoch: state.epoch + 1,
        learningStartedAt: now,
        observedTokens: options.tokens,
        expiresAt: now + Duration.toMillis(options.fallbackWindow) + adaptiveStateTtlGraceMillis
      }
      return [{ delay: Duration.zero, epoch: learning.epoch, phase: "learning" }, learning]
    }
    case "learning":
      return [
        { delay: Duration.zero, epoch: state.epoch, phase: "learning" },
        { ...state, observedTokens: state.observedTokens + options.tokens }
      ]
    case "learned": {
      const refillRateMillis = state.learnedWindowMillis / state.learnedLimit
      const restart = state.cooldownUntil <= now
      const observedTokens = (restart ? 0 : state.observedTokens) + options.tokens
      const cooldownUntil = (restart ? now : state.cooldownUntil) + refillRateMillis * options.tokens
      const ttl = cooldownUntil - now
      const elapsed = observedTokens * refillRateMillis - ttl
      const windowNumber = Math.floor((observedTokens - 1) / state.learnedLimit)
      const remaining = windowNumber * state.learnedWindowMillis - elapsed
      return [
        { delay: remaining <= 0 ? Duration.zero : Duration.millis(remaining), epoch: state.epoch, phase: "learned" },
        { ...state, observedTokens, cooldownUntil }
      ]
    }
    case "inactive":
      return [{ delay: Duration.zero, epoch: state.epoch, phase: state.phase }, undefined]
  }
}

/**
 * One `adaptiveFeedback` on a key's live state: the state to store
 * (undefined: leave it as it is). Only a 429 with a retry-after counts, as
 * in Effect's memory store.
 *
 * @internal
 */
export const adaptiveFeedbackStep = (
  state: AdaptiveState | undefined,
  options: RateLimiter.AdaptiveFeedbackOptions,
  now: number
): AdaptiveState | undefined => {
  if (options.status !== 429 || options.retryAfter === undefined) return undefined
  const retryAfterMillis = clampAdaptiveDurationMillis(Duration.toMillis(options.retryAfter))
  const cooldownUntil = now + retryAfterMillis
  if (state === undefined) return options.epoch === 0 ? cooldown(cooldownUntil, 0) : undefined
  if (state.epoch !== options.epoch) return undefined
  switch (state.phase) {
    case "cooldown": {
      const until = Math.max(state.cooldownUntil, cooldownUntil)
      return { ...state, cooldownUntil: until, expiresAt: until + adaptiveStateTtlGraceMillis }
    }
    case "learning": {
      const acceptedTokens = state.observedTokens - options.tokens
      if (acceptedTokens <= 0) return cooldown(cooldownUntil, state.epoch)
      const learnedWindowMillis = clampAdaptiveDurationMillis(now - state.learningStartedAt + retryAfterMillis)
      return {
        phase: "learned",
        epoch: state.epoch + 1,
        cooldownUntil: state.learningStartedAt + learnedWindowMillis,
        learningStartedAt: state.learningStartedAt,
        observedTokens: acceptedTokens,
        learnedLimit: acceptedTokens,
        learnedWindowMillis,
        expiresAt: now + learnedWindowMillis + adaptiveStateTtlGraceMillis
      }
    }
    case "learned":
      return cooldown(cooldownUntil, state.epoch)
    case "inactive":
      return undefined
  }
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
      const table = sql(`${prefix}_limits`)
      const adaptive = sql(`${prefix}_adaptive`)
      yield* createTables(
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
      const overLimit = (key: string, tokens: number, now: number) =>
        Effect.map(
          sql<CounterRow>`SELECT count, expires_at FROM ${table} WHERE key = ${key}`,
          (rows) => {
            const expiresAt = rows.length === 0 ? now : Number(rows[0].expires_at)
            return expiresAt <= now
              ? [tokens, 0] as const
              : [Number(rows[0].count) + tokens, expiresAt - now] as const
          }
        )

      /** Runs `f` on a key's live adaptive state with no other runner changing that key meanwhile. */
      const withAdaptiveState = <A>(
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

      return RateLimiter.RateLimiterStore.of({
        // The semantics of Effect's memory store, each change in one statement.
        fixedWindow: (options) =>
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            const refillRate = Duration.toMillis(options.refillRate)
            // Nothing can ever be taken: the counter is left as it is.
            if (options.limit !== undefined && options.tokens > options.limit) {
              return yield* overLimit(options.key, options.tokens, now)
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
                  INSERT INTO ${table} (key, count, expires_at) VALUES (${options.key}, ${options.tokens}, ${
                now + extend
              })
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
            return yield* overLimit(options.key, options.tokens, now)
          }).pipe(Effect.mapError(storeFailure("taking from a fixed window"))),
        tokenBucket: () =>
          Effect.fail(
            new RateLimiter.RateLimiterError({
              reason: new RateLimiter.RateLimitStoreError({
                message: "The outbox's SQL rate-limit store implements fixed windows only, not token buckets"
              })
            })
          ),
        adaptiveConsume: (options) =>
          withAdaptiveState(options.key, (state, now) => adaptiveConsumeStep(state, options, now)).pipe(
            Effect.mapError(storeFailure("taking from an adaptive limit"))
          ),
        adaptiveFeedback: (options) =>
          withAdaptiveState(options.key, (state, now) => [undefined, adaptiveFeedbackStep(state, options, now)]).pipe(
            Effect.asVoid,
            Effect.mapError(storeFailure("recording a server's feedback for an adaptive limit"))
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
  SqlClient.SqlClient.useSync((client) => {
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
