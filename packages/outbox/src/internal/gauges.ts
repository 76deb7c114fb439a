/**
 * The outbox's state gauges, refreshed from the database on a schedule.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as OutboxMetrics from "../OutboxMetrics.js"
import type { Store } from "./store.js"

/**
 * The state gauges (messages per state, the oldest pending message's age),
 * read from the database every `interval` for as long as the scope lasts:
 * the database, not this process, knows what every runner did.
 *
 * @internal
 */
export const refreshEvery = (store: Store, interval: Duration.Input | undefined) => {
  const refresh = Effect.flatMap(
    store.census,
    ({ counts, oldestPending }) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.andThen(
          Effect.forEach(
            Object.entries(counts),
            ([state, n]) => Metric.update(Metric.withAttributes(OutboxMetrics.messages, { state }), n),
            { discard: true }
          ),
          Metric.update(OutboxMetrics.oldestPendingAge, oldestPending === undefined ? 0 : (now - oldestPending) / 1000)
        ))
  )
  return Effect.forkScoped(
    refresh.pipe(
      Effect.catch((error) => Effect.logWarning(error.message)),
      Effect.repeat(Schedule.spaced(interval ?? Duration.seconds(15)))
    )
  )
}
