import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type SmtpError, TimeoutError } from "../SmtpError.js"
import type { Connection } from "../Socket.js"

/**
 * Reply timeouts without a race per read. `Effect.timeoutFail` forks two
 * fibers and interrupts one for every wait (60-80 µs); here one watchdog fiber
 * per session sleeps on Effect's Clock toward the armed deadline, at most
 * `step` at a time, then the rest, so a timeout fires exactly on time and
 * TestClock controls it. Arming is two assignments.
 *
 * Deadlines are armed at least `step` ahead (the shortest timeout), so the
 * watchdog always wakes before one. A shorter wait (QUIT's cap, tiny test
 * timeouts) falls before its next wake-up: `covers` says so, and the caller
 * times that read with a race instead.
 *
 * @internal
 */
export interface ReadTimer {
  /** The Clock's time in milliseconds. */
  readonly now: () => number
  /** Whether a deadline at `at` can be left to the watchdog. */
  readonly covers: (at: number) => boolean
  /** The next chunk, failing with a TimeoutError at `at` (Clock millis). */
  readonly readBy: (
    at: number,
    timeout: Duration.Duration,
    operation: string,
    wait: NonNullable<Connection["awaitRead"]>
  ) => Effect.Effect<Uint8Array, SmtpError>
}

/** @internal */
export const make = (timeouts: ReadonlyArray<Duration.Duration>): Effect.Effect<ReadTimer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const step = Math.max(1000, Math.min(...timeouts.map(Duration.toMillis)))
    let deadline = Infinity
    let expire: (() => void) | undefined = undefined
    let parked: (() => void) | undefined = undefined
    /** When the watchdog next looks at the deadline; -Infinity while it is parked or not yet started. */
    let wakesAt = -Infinity

    const arm = (at: number, onExpire: () => void) => {
      deadline = at
      expire = onExpire
      const wake = parked
      parked = undefined
      wake?.()
    }
    const disarm = () => {
      deadline = Infinity
      expire = undefined
    }

    const watch: Effect.Effect<never> = Effect.forever(Effect.suspend(() => {
      if (expire === undefined) {
        wakesAt = -Infinity
        return Effect.callback<void>((resume) => {
          parked = () => resume(Effect.void)
          return Effect.sync(() => {
            parked = undefined
          })
        })
      }
      const now = clock.currentTimeMillisUnsafe()
      if (now >= deadline) {
        const onExpire = expire
        disarm()
        onExpire()
        return Effect.void
      }
      const nap = Math.min(deadline - now, step)
      wakesAt = now + nap
      return Effect.sleep(Duration.millis(nap))
    }))
    yield* Effect.forkScoped(watch)

    const readBy: ReadTimer["readBy"] = (at, timeout, operation, wait) =>
      Effect.callback<Uint8Array, SmtpError>((resume) => {
        let done = false
        const cancel = wait((result) => {
          if (done) return
          done = true
          disarm()
          resume(result)
        })
        if (done) return
        arm(at, () => {
          if (done) return
          done = true
          cancel()
          resume(Effect.fail(new TimeoutError({ operation, timeout })))
        })
        return Effect.sync(() => {
          if (done) return
          done = true
          cancel()
          disarm()
        })
      })

    return {
      now: () => clock.currentTimeMillisUnsafe(),
      covers: (at) => at >= wakesAt,
      readBy
    }
  })
