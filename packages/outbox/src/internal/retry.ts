import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import * as Schedule from "effect/Schedule"

/**
 * A retry `Schedule` stepped by hand rather than by `Effect.retry`: the
 * workflow must sleep on a durable clock, and after a crash it replays its
 * attempts to rebuild the schedule's state. Each step is fed the time the
 * failed attempt ended (as recorded), not the time of the replay, so a
 * replay takes the same decisions.
 */

/** @internal */
export interface Stepper<In> {
  /** The next attempt's time after a failure at `at`, or `undefined` when the schedule is done. */
  readonly next: (at: number, input: In) => Effect.Effect<number | undefined>
}

/** @internal */
export const make = <In>(schedule: Schedule.Schedule<unknown, In>): Effect.Effect<Stepper<In>> =>
  Effect.map(Schedule.toStep(schedule), (step) => {
    let done = false
    return {
      next: (at, input) =>
        Effect.suspend(() => {
          if (done) return Effect.succeed(undefined)
          return step(at, input).pipe(
            Effect.map(([_out, delay]): number | undefined => at + Math.max(0, Duration.toMillis(delay))),
            Pull.catchDone(() =>
              Effect.sync(() => {
                done = true
                return undefined
              })
            )
          )
        })
    }
  })
