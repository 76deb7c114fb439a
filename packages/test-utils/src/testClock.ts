/**
 * The TestClock's pending sleeps, for tests that must wait until forked work
 * has fallen asleep before they move the clock. Effect 4's `TestClock`
 * interface has no `sleeps()` any more; its implementation keeps them in a
 * `sleeps` array, read here and checked, so a change in Effect fails loudly.
 */
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"

export const pendingSleeps: Effect.Effect<number> = TestClock.testClockWith((clock) =>
  Effect.suspend(() => {
    const sleeps: unknown = Reflect.get(clock, "sleeps")
    return Array.isArray(sleeps)
      ? Effect.succeed(sleeps.length)
      : Effect.die(new Error("the TestClock no longer exposes its pending sleeps"))
  })
)
