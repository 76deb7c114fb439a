/**
 * Runs a throughput case (caseChild.ts) or the large message (largeChild.ts)
 * in a child process of its own, compiled to JavaScript first, and reads
 * back its timing. The outbox's children are compiled here too.
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

const LargeRates = Schema.Struct({
  size: Schema.Number,
  effectSmtp: Schema.Array(Schema.Number),
  raw: Schema.Array(Schema.Number)
})

const source = (name: string) => fileURLToPath(new URL(`./${name}.ts`, import.meta.url))
const outdir = fileURLToPath(new URL("../node_modules/.cache", import.meta.url))

/** The compiled children: one file each. */
export interface Runners {
  readonly cases: string
  readonly large: string
  /** The outbox's rows (outboxChild.ts). */
  readonly outbox: string
  /** One outbox runner of the PostgreSQL rows (outboxRunner.ts). */
  readonly outboxRunner: string
}

/**
 * The case runner compiled to one JavaScript file, as an application ships
 * its code: built once per run, and every case (the peers too) runs from it.
 * Run through a TypeScript loader instead (tsx), every function made at run
 * time would be wrapped in a naming helper, which about doubles the CPU of
 * code that makes closures per message, and measures the loader.
 */
export const build: Effect.Effect<Runners> = Effect.promise(() =>
  esbuild.build({
    entryPoints: [source("caseChild"), source("largeChild"), source("outboxChild"), source("outboxRunner")],
    bundle: true,
    platform: "node",
    format: "esm",
    external: ["nodemailer"],
    outdir,
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
    // Some dependencies are CommonJS and call require().
    banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" }
  })
).pipe(Effect.as({
  cases: `${outdir}/caseChild.mjs`,
  large: `${outdir}/largeChild.mjs`,
  outbox: `${outdir}/outboxChild.mjs`,
  outboxRunner: `${outdir}/outboxRunner.mjs`
}))

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
  Effect.flatMap(spawn(child, sink, caseArguments(key, options)), Schema.decodeEffect(Schema.fromJsonString(Timing)))

/** Several cases in one shared child process, timed one after another: their timings in order. */
export const runShared = (
  child: string,
  sink: SmtpSink,
  keys: ReadonlyArray<Cases.Key>,
  options: RunOptions
): Effect.Effect<ReadonlyArray<typeof Timing.Type>, PlatformError | Schema.SchemaError, ChildProcessSpawner> =>
  Effect.flatMap(
    spawn(child, sink, caseArguments(keys.join(","), options)),
    Schema.decodeEffect(Schema.fromJsonString(Schema.Array(Timing)))
  )

/** The large message's rounds in a child process: bytes per second per round, effect-smtp's and the raw socket's. */
export const runLarge = (
  child: string,
  sink: SmtpSink,
  options: { readonly size: number; readonly rounds: number }
): Effect.Effect<typeof LargeRates.Type, PlatformError | Schema.SchemaError, ChildProcessSpawner> =>
  Effect.flatMap(
    spawn(child, sink, [String(options.size), String(options.rounds)]),
    Schema.decodeEffect(Schema.fromJsonString(LargeRates))
  )

const caseArguments = (keys: string, options: RunOptions) => [
  keys,
  String(options.count),
  String(options.warmUpSeconds),
  String(options.inFlight)
]

/** The child's stdout (its result as JSON); its progress and errors go to this process's stderr. */
const spawn = (child: string, sink: SmtpSink, args: ReadonlyArray<string>) =>
  ChildProcessSpawner.use((spawner) =>
    spawner.string(
      ChildProcess.make(process.execPath, [child, sink.host, String(sink.port), ...args], { stderr: "inherit" })
    )
  )
