/**
 * `pnpm bench`: starts smtp-sink on loopback and, in one run, sends N 2 KB
 * messages with effect-smtp and its peers, streams a large message through
 * effect-smtp and through a raw socket, measures effect-smtp's peak RSS
 * growth, and compares telemetry on and off. Prints Markdown on stdout
 * (progress goes to stderr).
 *
 * Environment: BENCH_N (messages per run, default 20000), BENCH_REPEATS
 * (rounds, default 5; medians are reported), BENCH_IN_FLIGHT (concurrent
 * sends, default 64), BENCH_LARGE_MB (default 50), BENCH_QUICK=1 (a smoke
 * run: 500 messages, 1 round, 5 MB), BENCH_ONLY (comma-separated case keys
 * from cases.ts, plus "shared" (the clients of `Cases.shared` in one
 * process), "large", "memory" and "outbox"; e.g. `BENCH_ONLY=pool1` to profile one
 * case with `node --cpu-prof`). The outbox rows (outbox.ts) send BENCH_N / 10
 * messages (at least 200), BENCH_OUTBOX_BATCH per `enqueueAll` (default 500);
 * "outboxPg" (one runner and three on PostgreSQL) runs when EFFECT_SMTP_POSTGRES_URL is set.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Os from "node:os"
import * as Cases from "./cases.js"
import * as Isolated from "./isolated.js"
import * as Memory from "./memory.js"
import * as Message from "./message.js"
import * as OutboxPg from "./outboxPg.js"
import * as OutboxRows from "./outboxRows.js"
import * as Report from "./report.js"
import * as SmtpSink from "./smtpSink.js"
import { rate } from "./table.js"

const settings = Effect.gen(function*() {
  const quick = yield* Config.Boolean("BENCH_QUICK").pipe(Config.withDefault(false))
  return {
    count: yield* Config.Int("BENCH_N").pipe(Config.withDefault(quick ? 500 : 20_000)),
    repeats: yield* Config.Int("BENCH_REPEATS").pipe(Config.withDefault(quick ? 1 : 5)),
    inFlight: yield* Config.Int("BENCH_IN_FLIGHT").pipe(Config.withDefault(64)),
    warmUpSeconds: yield* Config.Number("BENCH_WARMUP_SECONDS").pipe(Config.withDefault(quick ? 0.5 : 4)),
    largeMb: yield* Config.Int("BENCH_LARGE_MB").pipe(Config.withDefault(quick ? 5 : 50)),
    only: yield* Config.Array(Schema.String, "BENCH_ONLY").pipe(Config.option),
    outboxBatch: yield* Config.Int("BENCH_OUTBOX_BATCH").pipe(Config.withDefault(500)),
    postgres: yield* Config.String("EFFECT_SMTP_POSTGRES_URL").pipe(Config.option),
    messageSize: 2048
  }
})

const program = Effect.gen(function*() {
  const config = yield* settings
  const startedAt = new Date()
  const loadAtStart = Os.loadavg()
  const selected = (key: string) =>
    Option.match(config.only, { onNone: () => true, onSome: (keys) => keys.includes(key) })
  const sink = yield* SmtpSink.start
  yield* Console.error(`smtp-sink on ${sink.host}:${sink.port}`)

  const allCases = Cases.make(sink, config)
  const cases = allCases
    .filter((c) => selected(c.key))
    .map((c) => ({ ...c, count: Math.max(1, Math.round(config.count / (c.share ?? 1))) }))
  const runner = yield* Isolated.build
  const rates = Cases.record()
  const cpu = Cases.record()
  const sharedRates = Cases.record()
  const sharedCpu = Cases.record()
  const shared = selected("shared")

  // The cases interleaved round by round: a change in the machine's load
  // (the machine is shared) spreads over all of them instead of one. Each
  // run is a fresh process that warms up first (see caseChild.ts).
  for (let round = 1; round <= config.repeats; round++) {
    for (const c of cases) {
      const timing = yield* Isolated.run(runner.cases, sink, c.key, {
        count: c.count,
        warmUpSeconds: config.warmUpSeconds,
        inFlight: config.inFlight
      })
      rates[c.key].push(c.count / timing.seconds)
      cpu[c.key].push((timing.cpuSeconds * 1e6) / c.count)
      yield* Console.error(
        `round ${round}/${config.repeats} ${c.client} (${c.connections}): ${rate(c.count / timing.seconds)} msg/s, ` +
          `${rate((timing.cpuSeconds * 1e6) / c.count)} µs CPU/msg`
      )
    }
    // The same clients once more, all in one process, as an application's process is shared.
    if (!shared) continue
    const timings = yield* Isolated.runShared(runner.cases, sink, Cases.shared, {
      count: config.count,
      warmUpSeconds: config.warmUpSeconds,
      inFlight: config.inFlight
    })
    Cases.shared.forEach((key, i) => {
      sharedRates[key].push(config.count / timings[i].seconds)
      sharedCpu[key].push((timings[i].cpuSeconds * 1e6) / config.count)
    })
    yield* Console.error(
      `round ${round}/${config.repeats} one shared process: ` +
        Cases.shared.map((key) => `${key} ${rate(sharedRates[key][sharedRates[key].length - 1])}`).join(", ") +
        " msg/s"
    )
  }

  // One large message through effect-smtp and through the raw socket, alternating, in a compiled child.
  const largeSize = config.largeMb * 1024 * 1024
  const largeRates = selected("large")
    ? yield* Isolated.runLarge(runner.large, sink, { size: largeSize, rounds: config.repeats })
    : { size: Message.large(largeSize).size, effectSmtp: [], raw: [] }

  const memory = (size: number) =>
    selected("memory")
      ? Memory.measure(sink.port, size)
      : Effect.succeed({ size, baseline: NaN, peak: NaN, growth: NaN, kernel: false })
  yield* Console.error("peak RSS, each size in a child process")
  const small = yield* memory(1024 * 1024)
  const largeMemory = yield* memory(largeRates.size)

  const outboxSettings = {
    count: Math.max(200, Math.round(config.count / 10)),
    callers: 32,
    batch: config.outboxBatch,
    warmUp: config.count >= 5000 ? 500 : 100
  }
  const outbox = selected("outbox")
    ? OutboxRows.render(yield* OutboxRows.run(runner.outbox, sink, outboxSettings), outboxSettings)
    : ""
  const outboxPg = selected("outboxPg") && Option.isSome(config.postgres)
    ? OutboxPg.render(yield* OutboxPg.run(runner.outboxRunner, sink, config.postgres.value, outboxSettings.count * 2))
    : ""

  yield* Console.log(Report.render({
    startedAt,
    loadAtStart,
    messageSize: config.messageSize,
    inFlight: config.inFlight,
    repeats: config.repeats,
    cases,
    rates,
    cpu,
    shared: {
      keys: shared ? Cases.shared : [],
      names: Object.fromEntries(allCases.map((c) => [c.key, `${c.client} (${c.connections})`])),
      rates: sharedRates,
      cpu: sharedCpu
    },
    large: largeRates,
    memory: { small, large: largeMemory }
  }))
  if (outbox !== "") yield* Console.log(`\n${outbox}`)
  if (outboxPg !== "") yield* Console.log(`\n${outboxPg}`)
})

program.pipe(Effect.scoped, Effect.provide(NodeServices.layer), NodeRuntime.runMain)
