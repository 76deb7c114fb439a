/**
 * How the outbox waits out its database (src/internal/store.ts,
 * `persistently`): a failing read or write is tried again on `storeRetry`
 * (200 ms, doubling, at most every 30 s) for as long as it takes, each
 * failure logged, so an outage delays sending and loses nothing. Timed
 * under `TestClock`.
 */
import { effectProp, fc } from "@effect-smtp/test-utils/property"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as TestClock from "effect/testing/TestClock"
import { persistently } from "../src/internal/store.js"
import { OutboxStoreError } from "../src/OutboxError.js"

/** The delay before retry `n` (1-based): 200 ms doubled each time, at most 30 s. */
const delayBefore = (n: number) => Math.min(200 * 2 ** (n - 1), 30_000)

/** A database that fails its first `failures` calls, then answers; what `persistently` made of it. */
const flaky = (failures: number) => {
  const calls: Array<number> = []
  const logged: Array<string> = []
  const operation = Effect.flatMap(Effect.clockWith((clock) => clock.currentTimeMillis), (now) => {
    calls.push(now)
    return calls.length <= failures
      ? Effect.fail(new OutboxStoreError({ operation: `reading call ${calls.length}`, cause: "database is locked" }))
      : Effect.succeed("answer")
  })
  const logger = Logger.make<unknown, void>(({ message }) => {
    logged.push(String(Array.isArray(message) ? message[0] : message))
  })
  const run = persistently(operation).pipe(Effect.provide(Logger.layer([logger])))
  return { calls, logged, run }
}

describe("persistently", () => {
  it.effect("a failing database is tried again after 200, 400, 800 ms, each failure logged, until it answers", () =>
    Effect.gen(function*() {
      const { calls, logged, run } = flaky(3)
      const fiber = yield* Effect.forkChild(run)
      yield* Effect.yieldNow
      expect(calls).toEqual([0])
      // Not again at once: the first retry waits the schedule's first delay.
      yield* TestClock.adjust("199 millis")
      expect(calls).toEqual([0])
      yield* TestClock.adjust("1 millis")
      expect(calls).toEqual([0, 200])
      yield* TestClock.adjust("400 millis")
      expect(calls).toEqual([0, 200, 600])
      yield* TestClock.adjust("800 millis")
      expect(calls).toEqual([0, 200, 600, 1400])
      expect(yield* Fiber.join(fiber)).toBe("answer")
      expect(logged).toHaveLength(3)
      expect(logged[0]).toContain("reading call 1")
      expect(logged[2]).toContain("reading call 3")
    }))

  it.effect("a database that answers is called once, and nothing is logged", () =>
    Effect.gen(function*() {
      const { calls, logged, run } = flaky(0)
      expect(yield* run).toBe("answer")
      expect(calls).toEqual([0])
      expect(logged).toEqual([])
    }))

  effectProp(
    "property: after k failures the database is called k + 1 times, retry n at the sum of the delays before it (200 ms doubling, at most 30 s), and the answer is returned",
    { failures: fc.integer({ min: 0, max: 12 }) },
    ({ failures }) =>
      Effect.gen(function*() {
        const { calls, logged, run } = flaky(failures)
        const fiber = yield* Effect.forkChild(run)
        let elapsed = 0
        for (let n = 1; n <= failures; n++) {
          yield* Effect.yieldNow
          yield* TestClock.adjust(delayBefore(n))
          elapsed += delayBefore(n)
        }
        expect(yield* Fiber.join(fiber)).toBe("answer")
        expect(calls).toEqual(
          Array.from({ length: failures + 1 }, (_, i) =>
            Array.from({ length: i }, (_, n) => delayBefore(n + 1)).reduce((a, b) => a + b, 0))
        )
        expect(calls[calls.length - 1]).toBe(elapsed)
        expect(logged).toHaveLength(failures)
      })
  )
})
