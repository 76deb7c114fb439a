/**
 * Waiting for forked work to reach its sleep on the TestClock.
 */
import { pendingSleeps } from "@effect-smtp/test-utils/testClock"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"

/**
 * Waits, one scheduler turn at a time, until a sleep is pending on the
 * TestClock, or until `fiber` (when given) has ended without one. Effect 3's
 * `TestClock.adjust` let every fiber run until it suspended before moving the
 * clock; Effect 4's yields once. A forked send whose first sleep comes only
 * after an exchange with the in-memory server (a retry after a 4xx, a server
 * that answers at once and then stalls QUIT) is given the time to get there,
 * so the clock moves from the moment it fell asleep, as it did.
 */
export const untilSleeping = (fiber?: Fiber.Fiber<unknown, unknown>): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let turn = 0; turn < 10_000; turn++) {
      if ((yield* pendingSleeps) > 0 || fiber?.pollUnsafe() !== undefined) return
      yield* Effect.yieldNow
    }
    return yield* Effect.die(new Error("nothing sleeps on the TestClock"))
  })
