/**
 * The peers are plain promise code (no Effect in their way); this is where
 * they join the benchmark's Effect program.
 */
import * as Effect from "effect/Effect"

export const fromPromise = (run: () => Promise<void>): Effect.Effect<void, Error> =>
  Effect.tryPromise({ try: run, catch: (error) => error instanceof Error ? error : new Error(String(error)) })
