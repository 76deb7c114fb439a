/**
 * Runs a throughput case in a child process of its own (caseChild.ts,
 * compiled to one JavaScript file first), and reads back its timing.
 */
import * as Effect from "effect/Effect"
import type { PlatformError } from "effect/PlatformError"
import * as ChildProcess from "effect/process/ChildProcess"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import * as Schema from "effect/Schema"
import * as esbuild from "esbuild"
import { fileURLToPath } from "node:url"
import type * as Cases from "./cases.js"
import type { SmtpSink } from "./smtpSink.js"

const Timing = Schema.Struct({ seconds: Schema.Number, cpuSeconds: Schema.Number })

const source = fileURLToPath(new URL("./caseChild.ts", import.meta.url))
const outfile = fileURLToPath(new URL("../node_modules/.cache/case.mjs", import.meta.url))

/**
 * The case runner compiled to one JavaScript file, as an application ships
 * its code: built once per run, and every case (the peers too) runs from it.
 * Run through a TypeScript loader instead (tsx), every function made at run
 * time would be wrapped in a naming helper, which about doubles the CPU of
 * code that makes closures per message, and measures the loader.
 */
export const build: Effect.Effect<string> = Effect.promise(() =>
  esbuild.build({
    entryPoints: [source],
    bundle: true,
    platform: "node",
    format: "esm",
    external: ["nodemailer"],
    outfile,
    logLevel: "warning",
    // Some dependencies are CommonJS and call require().
    banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" }
  })
).pipe(Effect.as(outfile))

interface RunOptions {
  readonly count: number
  readonly warmUpSeconds: number
  readonly inFlight: number
}

export const run = (
  child: string,
  sink: SmtpSink,
  key: Cases.Key,
  options: RunOptions
): Effect.Effect<typeof Timing.Type, PlatformError | Schema.SchemaError, ChildProcessSpawner> =>
  Effect.flatMap(spawn(child, sink, key, options), Schema.decodeEffect(Schema.fromJsonString(Timing)))

/** Several cases in one shared child process, timed one after another: their timings in order. */
export const runShared = (
  child: string,
  sink: SmtpSink,
  keys: ReadonlyArray<Cases.Key>,
  options: RunOptions
): Effect.Effect<ReadonlyArray<typeof Timing.Type>, PlatformError | Schema.SchemaError, ChildProcessSpawner> =>
  Effect.flatMap(
    spawn(child, sink, keys.join(","), options),
    Schema.decodeEffect(Schema.fromJsonString(Schema.Array(Timing)))
  )

/** The child's stdout (its timing as JSON); its progress and errors go to this process's stderr. */
const spawn = (child: string, sink: SmtpSink, keys: string, options: RunOptions) =>
  ChildProcessSpawner.use((spawner) =>
    spawner.string(
      ChildProcess.make(process.execPath, [
        child,
        sink.host,
        String(sink.port),
        keys,
        String(options.count),
        String(options.warmUpSeconds),
        String(options.inFlight)
      ], { stderr: "inherit" })
    )
  )
