/**
 * What is alive, for the memory children (signLarge.ts, attachLarge.ts): the
 * heap and the ArrayBuffers' memory, which lies outside it (a held body would
 * be there), after a full collection (run with --expose-gc) so that garbage
 * not yet collected does not count. Node 24's V8 frees the memory of
 * collected ArrayBuffers on a background thread: a collection, a turn of the
 * event loop for that sweep, and a second collection, or memory already
 * garbage (tens of MiB after a pass over the body) would count as alive.
 */
import * as Effect from "effect/Effect"

/** A sampler: `sample` measures what is alive now, `peak()` is the most seen so far. */
export const liveMemory = () => {
  let peak = 0
  const collect = () => (globalThis as { gc?: () => void }).gc?.()
  const sample = Effect.promise(async () => {
    collect()
    await new Promise((resolve) => setTimeout(resolve, 10))
    collect()
    const { arrayBuffers, heapUsed } = process.memoryUsage()
    peak = Math.max(peak, heapUsed + arrayBuffers)
  })
  return { sample, peak: () => peak }
}
