/**
 * Peak RSS growth while effect-smtp streams one large message, each case in a
 * child process of its own (memoryChild.ts) with the same loader as this one.
 */
import * as Effect from "effect/Effect"
import type { PlatformError } from "effect/PlatformError"
import * as ChildProcess from "effect/process/ChildProcess"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import * as Schema from "effect/Schema"
import { fileURLToPath } from "node:url"

export const Result = Schema.Struct({
  /** Bytes sent. */
  size: Schema.Number,
  baseline: Schema.Number,
  peak: Schema.Number,
  growth: Schema.Number,
  /** Whether the peak is the kernel's high-water mark (else 10 ms samples). */
  kernel: Schema.Boolean
})
export type Result = typeof Result.Type

const child = fileURLToPath(new URL("./memoryChild.ts", import.meta.url))

export const measure = (
  port: number,
  size: number
): Effect.Effect<Result, PlatformError | Schema.SchemaError, ChildProcessSpawner> =>
  ChildProcessSpawner.use((spawner) =>
    spawner.string(
      ChildProcess.make(
        process.execPath,
        [...process.execArgv, "--expose-gc", child, String(port), String(size)],
        { stderr: "inherit" }
      )
    )
  ).pipe(Effect.flatMap(Schema.decodeEffect(Schema.fromJsonString(Result))))
