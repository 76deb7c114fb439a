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
  /** The same measures for the clients run one after another in one shared process. */
  readonly shared: {
    readonly keys: ReadonlyArray<Key>
    /** Each case's client and connections, for the table. */
    readonly names: Readonly<Record<string, string>>
    readonly rates: Record<Key, ReadonlyArray<number>>
    readonly cpu: Record<Key, ReadonlyArray<number>>
  }
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
  const { large, memory, rates, shared } = results
  const cpu = (key: Key) => summarize(results.cpu[key]).median
  const sharedTable = shared.keys.length === 0 ? "" : markdown(
    ["one shared process, in this order", "msg/s (median)", "range", "client CPU µs/msg (median)"],
    shared.keys.map((key) => [
      shared.names[key] ?? key,
      rate(summarize(shared.rates[key]).median),
      spread(summarize(shared.rates[key])),
      rate(summarize(shared.cpu[key]).median)
    ])
  )
  const scaling = markdown(
    ["effect-smtp pool", "1", "2", "4", "8"],
    [[
      "msg/s (median)",
      ...(["pool1", "pool2", "pool4", "pool8"] as const).map((k) => rate(summarize(rates[k]).median))
    ]]
  )
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
      row("1 connection / raw ceiling", perRound(rates.pool1, rates.raw), ratio, { atLeast: 0.8 }, "≥ 0.8×"),
      row("client CPU per message, pool(1) / raw client", cpu("pool1") / cpu("raw"), ratio, { atMost: 2 }, "≤ 2×"),
      row("client CPU per message, pool(4) / raw client", cpu("pool4") / cpu("raw"), ratio, { atMost: 2 }, "≤ 2×"),
      row(
        "client CPU per message, pool(1), telemetry off / raw client",
        cpu("pool1Off") / cpu("raw"),
        ratio,
        { atMost: 2 },
        "≤ 2×"
      ),
      row(
        "client CPU per message, pool(4), telemetry off / raw client",
        cpu("pool4Off") / cpu("raw"),
        ratio,
        { atMost: 2 },
        "≤ 2×"
      ),
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
      row(
        "pool(4) / nodemailer pool(4), each in its own process",
        perRound(rates.pool4, rates.nodemailer4),
        ratio,
        { atLeast: 2.5 },
        "≥ 2.5×"
      ),
      row(
        "pool(4) / nodemailer pool(4), one shared process",
        perRound(shared.rates.pool4, shared.rates.nodemailer4),
        ratio,
        { atLeast: 2.5 },
        "≥ 2.5×"
      ),
      row(
        `${megabytes(large.size)} message, effect-smtp / raw socket`,
        perRound(large.effectSmtp, large.raw),
        ratio,
        { atLeast: 0.9 },
        "≥ 0.9×"
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
        "telemetry on / off, pool(1), msg/s",
        perRound(rates.pool1, rates.pool1Off),
        ratio,
        { atLeast: 0.95 },
        "≥ 0.95×"
      ),
      row(
        "telemetry on / off, pool(4), msg/s",
        perRound(rates.pool4, rates.pool4Off),
        ratio,
        { atLeast: 0.95 },
        "≥ 0.95×"
      ),
      row("telemetry on / off, pool(1), CPU per message", cpu("pool1") / cpu("pool1Off"), ratio, {}, "–"),
      row("telemetry on / off, pool(4), CPU per message", cpu("pool4") / cpu("pool4Off"), ratio, {}, "–")
    ]
  )
  return [
    ...machine(results),
    `- ${results.messageSize}-byte messages, ${results.inFlight} sends in flight for the clients that take concurrent ` +
    `sends; ${results.repeats} round(s), the cases interleaved in each; medians, ratios taken within a round`,
    "- effect-smtp rows, the large message and peak RSS: what an application runs, the default " +
    "`NodeSmtp.layer(options)` (the documented metrics on Effect's `Metric`) with a tracer exporting every span " +
    "(to memory), unless the row says telemetry off (`SmtpMetrics.layerNoop`, Effect's tracer disabled); " +
    "pooled connections are kept for the whole run (`maxMessagesPerConnection: Infinity`, as nodemailer's `maxMessages`)",
    `- peak RSS: ${memory.large.kernel ? "the kernel's high-water mark (VmHWM)" : "rss sampled every 10 ms"}, ` +
    "each size in a fresh process, growth over the baseline after a warm-up send",
    "",
    throughput,
    "",
    scaling,
    "",
    ...(sharedTable === "" ? [] : [sharedTable, ""]),
    largeTable,
    "",
    ratios
  ].join("\n")
}
