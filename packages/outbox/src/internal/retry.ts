import * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"

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
export const make = <In>(schedule: Schedule.Schedule<unknown, In>): Stepper<In> => {
  let state: unknown = schedule.initial
  let done = false
  return {
    next: (at, input) =>
      Effect.suspend(() => {
        if (done) return Effect.succeed(undefined)
        return Effect.map(schedule.step(at, input, state), ([next, _out, decision]) => {
          state = next
          if (ScheduleDecision.isDone(decision)) {
            done = true
            return undefined
          }
          return Math.max(at, ScheduleIntervals.start(decision.intervals))
        })
      })
  }
}
