/**
 * Timing and its summary: a run's wall-clock seconds and this process's CPU
 * seconds, and the median of repeated runs (the machine is shared, so single
 * runs are noisy; CPU time per message is much less so than wall time).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

export interface Timing {
  /** Wall clock. */
  readonly seconds: number
  /** User and system CPU of this whole process (all its threads, GC included). */
  readonly cpuSeconds: number
}

export const timed = <E, R>(self: Effect.Effect<unknown, E, R>): Effect.Effect<Timing, E, R> =>
  Effect.suspend(() => {
    const before = process.cpuUsage()
    return Effect.map(Effect.timed(self), ([elapsed]) => {
      const cpu = process.cpuUsage(before)
      return { seconds: Duration.toMillis(elapsed) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
    })
  })

export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly runs: number
}

export const summarize = (values: ReadonlyArray<number>): Summary => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  const median = sorted.length === 0
    ? NaN
    : sorted.length % 2 === 1
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2
  return { median, min: sorted[0] ?? NaN, max: sorted[sorted.length - 1] ?? NaN, runs: sorted.length }
}
