import { SmtpError } from "@effect-smtp/client"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as RateLimiter from "effect/persistence/RateLimiter"
import * as Semaphore from "effect/Semaphore"
import * as OutboxMetrics from "../OutboxMetrics.js"
import type * as SmtpOutbox from "../SmtpOutbox.js"
import type { Pause } from "./pause.js"
import { persistently } from "./store.js"

/**
 * When an attempt may start: after the pause every runner shares (set by a
 * "too many" reply) and then a slot of the shared rate limit, both waited
 * for in memory, inside the attempt. The stores behind them are
 * `pause.ts` and `limits.ts`.
 */

/** @internal */
export interface Turn {
  /** Waits for the shared pause to end, then for a slot of the rate limit. */
  readonly wait: Effect.Effect<void>
  /** After a failed attempt at `at`: pauses every runner when the reply was a "too many". */
  readonly failed: (error: SmtpError.SmtpError, at: number) => Effect.Effect<void>
}

const waitFor = (reason: "rate_limit" | "pause", millis: number) =>
  Effect.andThen(
    Metric.update(Metric.withAttributes(OutboxMetrics.waits, { reason }), millis / 1000),
    Effect.sleep(Duration.millis(millis))
  )

/** A half-open window of (interval + jitter) holds at most `messages` starts spaced this far apart. */
const spacingOf = (rateLimit: SmtpOutbox.RateLimitOptions): Duration.Duration =>
  Duration.divideUnsafe(
    Duration.sum(
      Duration.fromInputUnsafe(rateLimit.interval),
      Duration.fromInputUnsafe(rateLimit.jitter ?? Duration.millis(250))
    ),
    rateLimit.messages
  )

/** @internal */
export const make = (options: {
  readonly prefix: string
  readonly rateLimit: SmtpOutbox.RateLimitOptions | undefined
  readonly pause: Pause
}) =>
  Effect.gen(function*() {
    const { pause, prefix, rateLimit } = options
    const limiter = rateLimit === undefined ? undefined : yield* RateLimiter.make
    // One slot reserved at a time by this runner: an attempt takes the next
    // slot only once the one before it is due. Reserved slots are not given
    // back, so an attempt interrupted while it waits for its slot (its shard
    // moved to a runner that joined) leaves a gap; reserving one at a time,
    // a runner leaves at most one, not one per message waiting (a backlog
    // reserved slots minutes ahead). One runner still uses every slot.
    const reserving = yield* Semaphore.make(1)
    const spacing = rateLimit === undefined ? undefined : spacingOf(rateLimit)
    const backoff = Duration.toMillis(rateLimit?.backoff ?? Duration.minutes(1))

    const wait = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const until = yield* persistently(pause.until)
      if (until > now) {
        yield* waitFor("pause", until - now)
      }
      if (limiter === undefined || spacing === undefined) {
        return
      }
      yield* Semaphore.withPermits(reserving, 1)(Effect.gen(function*() {
        const taken = yield* persistently(limiter.consume({
          algorithm: "fixed-window",
          onExceeded: "delay",
          window: spacing,
          limit: 1,
          key: `${prefix}/rate`
        }))
        if (Duration.isGreaterThan(taken.delay, Duration.zero)) {
          yield* waitFor("rate_limit", Duration.toMillis(taken.delay))
        }
      }))
    })

    const turn: Turn = {
      wait,
      // The client's own rule: a reply that says the server wants fewer messages
      // from us pauses every runner.
      failed: (error, at) => SmtpError.isThrottling(error) ? persistently(pause.extend(at + backoff)) : Effect.void
    }
    return turn
  })
