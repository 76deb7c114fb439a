/**
 * Runs a throughput case in a child process of its own (caseChild.ts), with
 * the same loader as this one, and reads back its timing.
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { fileURLToPath } from "node:url"
import type * as Cases from "./cases.js"
import type { SmtpSink } from "./smtpSink.js"

const Timing = Schema.Struct({ seconds: Schema.Number, cpuSeconds: Schema.Number })

const child = fileURLToPath(new URL("./caseChild.ts", import.meta.url))

interface RunOptions {
  readonly count: number
  readonly warmUpSeconds: number
  readonly inFlight: number
}

export const run = (
  sink: SmtpSink,
  key: Cases.Key,
  options: RunOptions
): Effect.Effect<typeof Timing.Type, PlatformError | ParseResult.ParseError, CommandExecutor.CommandExecutor> =>
  Effect.flatMap(spawn(sink, key, options), Schema.decode(Schema.parseJson(Timing)))

/** Several cases in one shared child process, timed one after another: their timings in order. */
export const runShared = (
  sink: SmtpSink,
  keys: ReadonlyArray<Cases.Key>,
  options: RunOptions
): Effect.Effect<
  ReadonlyArray<typeof Timing.Type>,
  PlatformError | ParseResult.ParseError,
  CommandExecutor.CommandExecutor
> => Effect.flatMap(spawn(sink, keys.join(","), options), Schema.decode(Schema.parseJson(Schema.Array(Timing))))

const spawn = (sink: SmtpSink, keys: string, options: RunOptions) =>
  Command.make(
    process.execPath,
    ...process.execArgv,
    child,
    sink.host,
    String(sink.port),
    keys,
    String(options.count),
    String(options.warmUpSeconds),
    String(options.inFlight)
  ).pipe(
    Command.stderr("inherit"),
    Command.string
  )
