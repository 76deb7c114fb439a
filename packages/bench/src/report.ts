/**
 * The run's results as Markdown: the machine, msg/s per client, the large
 * message, and the ratios against their targets.
 */
import * as Os from "node:os"
import type { Case, Key } from "./cases.js"
import { summarize } from "./measure.js"
import type * as Memory from "./memory.js"
import { markdown, megabytes, rate, ratio, spread, verdict } from "./table.js"

export interface Results {
  readonly startedAt: Date
  readonly loadAtStart: ReadonlyArray<number>
  readonly messageSize: number
  readonly inFlight: number
  readonly repeats: number
  readonly cases: ReadonlyArray<Case & { readonly count: number }>
  /** msg/s per case, one per round. */
  readonly rates: Record<Key, ReadonlyArray<number>>
  /** This process's CPU µs per message, one per round. */
  readonly cpu: Record<Key, ReadonlyArray<number>>
  readonly large: {
    readonly size: number
    /** Bytes/s per round. */
    readonly effectSmtp: ReadonlyArray<number>
    readonly raw: ReadonlyArray<number>
  }
  readonly memory: { readonly small: Memory.Result; readonly large: Memory.Result }
}

const load = (averages: ReadonlyArray<number>) => averages.map((l) => l.toFixed(2)).join(" ")

const machine = (results: Results) => {
  const cpus = Os.cpus()
  return [
    `- date: ${results.startedAt.toISOString()}`,
    `- machine: ${cpus.length} CPUs (${cpus[0]?.model ?? "unknown model"}), ${megabytes(Os.totalmem())} RAM, ` +
    `${Os.type()} ${Os.release()}; node ${process.version}`,
    `- load average (1, 5, 15 min) at start ${load(results.loadAtStart)}, at end ${load(Os.loadavg())}`
  ]
}

/** Ratios of two cases run in the same round, then their median: drift between rounds cancels. */
const perRound = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) =>
  summarize(a.map((value, i) => value / b[i])).median

const mbPerSecond = (values: ReadonlyArray<number>) => {
  const summary = summarize(values)
  return [
    Number.isFinite(summary.median) ? `${megabytes(summary.median)}/s` : "n/a",
    spread(summary, (value) => megabytes(value).replace(" MB", ""))
  ]
}

interface Target {
  readonly atLeast?: number
  readonly atMost?: number
}

const row = (name: string, value: number, format: (value: number) => string, target: Target, text: string) => [
  name,
  format(value),
  text,
  verdict(value, target)
]

export const render = (results: Results): string => {
  const { large, memory, rates } = results
  const throughput = markdown(
    ["client", "connections", "msg/s (median)", "range", "client CPU µs/msg (median)"],
    results.cases.map((c) => [
      c.client + (c.share === undefined ? "" : ` (${c.count} messages)`),
      c.connections,
      rate(summarize(rates[c.key]).median),
      spread(summarize(rates[c.key])),
      c.external === true ? "(another process)" : rate(summarize(results.cpu[c.key]).median)
    ])
  )
  const largeTable = markdown(
    [`${megabytes(large.size)} message`, "MB/s (median)", "range"],
    [
      ["effect-smtp, `Stream<Uint8Array>` content", ...mbPerSecond(large.effectSmtp)],
      ["raw node:net socket, the same bytes", ...mbPerSecond(large.raw)]
    ]
  )
  const ratios = markdown(
    ["measure", "measured", "target", ""],
    [
      row("1 connection / raw ceiling", perRound(rates.pool1, rates.raw), ratio, { atLeast: 0.5 }, "≥ 0.5×"),
      row(
        "1 connection / nodemailer pool(1)",
        perRound(rates.pool1, rates.nodemailer1),
        ratio,
        { atLeast: 2 },
        "≈ 2× (implied)"
      ),
      row(
        "1 connection / smtp-source -d",
        perRound(rates.pool1, rates.smtpSource),
        ratio,
        { atLeast: 1.5 },
        "≈ 1.5× (implied)"
      ),
      row("pool(4) / nodemailer pool(4)", perRound(rates.pool4, rates.nodemailer4), ratio, { atLeast: 2 }, "≥ 2×"),
      row(
        `${megabytes(large.size)} message, effect-smtp / raw socket`,
        perRound(large.effectSmtp, large.raw),
        ratio,
        { atLeast: 0.8 },
        "≥ 0.8×"
      ),
      row(`peak RSS growth, ${megabytes(memory.small.size)} message`, memory.small.growth, megabytes, {}, "–"),
      row(
        `peak RSS growth, ${megabytes(memory.large.size)} message`,
        memory.large.growth,
        megabytes,
        { atMost: 64 * 1024 * 1024 },
        "≤ 64 MB"
      ),
      row(
        "telemetry on / off, pool(1)",
        perRound(rates.pool1Telemetry, rates.pool1),
        ratio,
        { atLeast: 0.95 },
        "≥ 0.95×"
      )
    ]
  )
  return [
    ...machine(results),
    `- ${results.messageSize}-byte messages, ${results.inFlight} sends in flight for the clients that take concurrent ` +
    `sends; ${results.repeats} round(s), the cases interleaved in each; medians, ratios taken within a round`,
    "- effect-smtp rows: telemetry off (no-op metrics, tracer disabled) unless the row says otherwise; " +
    "pooled connections are kept for the whole run (`maxMessagesPerConnection: Infinity`, as nodemailer's `maxMessages`)",
    `- peak RSS: ${memory.large.kernel ? "the kernel's high-water mark (VmHWM)" : "rss sampled every 10 ms"}, ` +
    "each size in a fresh process, growth over the baseline after a warm-up send",
    "",
    throughput,
    "",
    largeTable,
    "",
    ratios
  ].join("\n")
}
