/**
 * The outbox rows of `pnpm bench` (BENCH_ONLY key "outbox"): outboxChild.ts
 * compiled to one JavaScript file and run in a process of its own, its
 * result read back and rendered as Markdown.
 */
import * as Effect from "effect/Effect"
import type { PlatformError } from "effect/PlatformError"
import * as ChildProcess from "effect/process/ChildProcess"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import * as Schema from "effect/Schema"
import * as Os from "node:os"
import type { SmtpSink } from "./smtpSink.js"
import { markdown, rate, ratio, verdict } from "./table.js"

// A row left out is NaN in the child, null in its JSON.
const Rate = Schema.NullOr(Schema.Number)
const Result = Schema.Struct({
  count: Schema.Number,
  direct: Rate,
  directRecorded: Rate,
  enqueue: Rate,
  endToEnd: Rate,
  batchEnqueue: Rate,
  batchEndToEnd: Rate,
  batchStoreOnly: Rate,
  direct16: Rate,
  batchEndToEnd16: Rate,
  batchEndToEndIdle: Rate
})
export type Result = { readonly [K in keyof typeof Result.Type]: number }

export interface Settings {
  readonly count: number
  readonly callers: number
  readonly batch: number
  readonly warmUp: number
}

export interface Measured {
  readonly result: Result
  /** Load average (1, 5, 15 min) when the child ended. */
  readonly load: ReadonlyArray<number>
}

export const run = (
  child: string,
  sink: SmtpSink,
  settings: Settings
): Effect.Effect<Measured, PlatformError | Schema.SchemaError, ChildProcessSpawner> =>
  Effect.gen(function*() {
    const output = yield* ChildProcessSpawner.use((spawner) =>
      spawner.string(
        ChildProcess.make(process.execPath, [
          child,
          sink.host,
          String(sink.port),
          String(settings.count),
          String(settings.callers),
          String(settings.batch),
          String(settings.warmUp)
        ], { stderr: "inherit" })
      )
    )
    const decoded = yield* Schema.decodeEffect(Schema.fromJsonString(Result))(output.trim())
    const result = Object.fromEntries(
      Object.entries(decoded).map(([key, value]) => [key, value ?? NaN])
    ) as Result
    return { result, load: Os.loadavg() }
  })

export const render = (measured: Measured, settings: Settings): string => {
  const { result } = measured
  const rows: Array<Array<string>> = [
    ["direct pooled client, pool(4)", `${settings.callers} in flight`, rate(result.direct), "", ""],
    [
      "direct pooled client, pool(4), a synced record before each end",
      "a 256-byte write and its fdatasync, no database",
      rate(result.directRecorded),
      "",
      ""
    ],
    [
      "synced record / direct client",
      "what the durable record alone allows on this disk",
      ratio(result.directRecorded / result.direct),
      "",
      ""
    ],
    [
      "outbox `enqueue`",
      `${settings.callers} concurrent callers`,
      rate(result.enqueue),
      "≥ 1,000",
      verdict(result.enqueue, { atLeast: 1000 })
    ],
    [
      "outbox end to end (enqueue to Sent)",
      "`enqueue`, one runner, pool(4)",
      rate(result.endToEnd),
      "",
      ""
    ],
    [
      "outbox `enqueueAll`",
      `batches of ${settings.batch}`,
      rate(result.batchEnqueue),
      "≥ 5,000",
      verdict(result.batchEnqueue, { atLeast: 5000 })
    ],
    [
      "outbox `enqueueAll`, nothing sent meanwhile",
      `batches of ${settings.batch}, due in an hour`,
      rate(result.batchStoreOnly),
      "",
      ""
    ],
    ["outbox end to end (enqueueAll to Sent)", "one runner, pool(4)", rate(result.batchEndToEnd), "", ""],
    [
      "outbox end to end / direct client",
      "`enqueue`",
      ratio(result.endToEnd / result.direct),
      "≥ 0.5×",
      verdict(result.endToEnd / result.direct, { atLeast: 0.5 })
    ],
    [
      "outbox end to end / direct client",
      "`enqueueAll`",
      ratio(result.batchEndToEnd / result.direct),
      "≥ 0.5×",
      verdict(result.batchEndToEnd / result.direct, { atLeast: 0.5 })
    ],
    [
      "outbox end to end / direct client with a synced record",
      "`enqueueAll`",
      ratio(result.batchEndToEnd / result.directRecorded),
      "",
      ""
    ],
    ["direct pooled client, pool(16)", `${settings.callers} in flight`, rate(result.direct16), "", ""],
    ["outbox end to end (enqueueAll to Sent)", "one runner, pool(16)", rate(result.batchEndToEnd16), "", ""],
    [
      "outbox end to end / direct client, pool(16) each",
      "`enqueueAll`",
      ratio(result.batchEndToEnd16 / result.direct16),
      "",
      ""
    ],
    [
      "outbox end to end, a client that sends nothing",
      "`enqueueAll`: the outbox's own ceiling",
      rate(result.batchEndToEndIdle),
      "",
      ""
    ],
    [
      "the outbox's own ceiling / direct client, pool(4)",
      "`enqueueAll`",
      ratio(result.batchEndToEndIdle / result.direct),
      "",
      ""
    ]
  ]
  return [
    `### The outbox (SQLite, one runner, ${rate(result.count)} messages of 2 KB, Sent counted from the store)`,
    "",
    `load average (1, 5, 15 min) when it ended: ${measured.load.map((l) => l.toFixed(2)).join(" ")}`,
    "",
    markdown(["measure", "how", "msg/s", "target", ""], rows)
  ].join("\n")
}
