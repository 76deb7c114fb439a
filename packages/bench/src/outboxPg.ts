/**
 * The outbox on PostgreSQL (BENCH_ONLY key "outboxPg", with
 * EFFECT_SMTP_POSTGRES_URL set): one runner, then three runner processes
 * on the same database (a fresh one each time), delivering to smtp-sink.
 * The runners start together; once they have shared the shards one of them
 * enqueues the messages, and the rate is of those the store says are
 * `Sent` (read by this process's own connection), from the first enqueue
 * until none is pending.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { spawn } from "node:child_process"
import * as Os from "node:os"
import { freePort, type SmtpSink } from "./smtpSink.js"
import { markdown, rate, ratio, verdict } from "./table.js"

/** A runner process, killed with the scope; what it printed so far. */
const runner = (file: string, args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, [file, ...args], { stdio: ["ignore", "pipe", "inherit"] })
      let output = ""
      child.stdout.on("data", (data: Buffer) => {
        output += data.toString("utf8")
      })
      return { child, output: () => output }
    }),
    ({ child }) => Effect.sync(() => child.kill("SIGKILL"))
  )

const until = (condition: () => boolean) =>
  Effect.repeat(Effect.sync(condition), { until: (ok) => ok, schedule: Schedule.spaced("20 millis") })

const withDatabase = <A, E>(base: string, use: (url: string) => Effect.Effect<A, E, Reactivity.Reactivity>) =>
  Effect.scoped(Effect.gen(function*() {
    const admin = yield* PgClient.make({ url: Redacted.make(base) })
    const name = `outbox_bench_${Date.now()}`
    yield* admin.unsafe(`CREATE DATABASE ${name}`)
    yield* Effect.addFinalizer(() => Effect.ignore(admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)))
    const target = new URL(base)
    target.pathname = `/${name}`
    return yield* use(target.toString())
  })).pipe(Effect.provide(Reactivity.layer))

/** How long the runners are given to share the shards before the messages are enqueued. */
const settle = 4000

/**
 * Messages delivered per second by `runners` runner processes started
 * together (one of them enqueues once the shards have settled), from the
 * first enqueue until none is pending; `notSent` counts those that ended
 * otherwise (a shard moved mid-attempt would make one Unknown).
 */
const measure = (file: string, sink: SmtpSink, base: string, runners: number, count: number) =>
  withDatabase<{ readonly rate: number; readonly notSent: number }, unknown>(
    base,
    (url) =>
      Effect.scoped(Effect.gen(function*() {
        const args = (n: number) =>
          Effect.map(freePort, (port) => [sink.host, String(sink.port), url, String(port), String(n), String(settle)])
        const enqueuer = yield* runner(file, yield* args(count))
        for (let i = 1; i < runners; i++) yield* runner(file, yield* args(0))
        yield* until(() => enqueuer.output().includes("ENQUEUING "))
        const since = Number(/ENQUEUING (\d+)/.exec(enqueuer.output())?.[1])
        const sql = yield* PgClient.make({ url: Redacted.make(url) })
        const states = Effect.map(
          Effect.orDie(sql<{ state: string; n: string }>`
          SELECT state, COUNT(*) AS n FROM smtp_outbox_messages GROUP BY state
        `),
          (rows) => new Map(rows.map((row) => [row.state, Number(row.n)]))
        )
        const ended = yield* Effect.repeat(states, {
          until: (counts) => [...counts.values()].reduce((a, b) => a + b, 0) >= count && !counts.has("Pending"),
          schedule: Schedule.spaced("50 millis")
        }).pipe(
          Effect.timeoutOrElse({
            duration: "300 seconds",
            orElse: () =>
              Effect.flatMap(states, (counts) =>
                Effect.die(
                  new Error(`${runners} runner(s): not ended in 300 s: ${JSON.stringify([...counts])}`)
                ))
          })
        )
        const seconds = (Date.now() - since) / 1000
        const sent = ended.get("Sent") ?? 0
        process.stderr.write(`${runners} runner(s): ${sent} Sent of ${count} in ${seconds.toFixed(2)} s\n`)
        return { rate: sent / seconds, notSent: count - sent }
      }))
  )

export interface Result {
  readonly count: number
  readonly one: { readonly rate: number; readonly notSent: number }
  readonly three: { readonly rate: number; readonly notSent: number }
  readonly load: ReadonlyArray<number>
}

export const run = (child: string, sink: SmtpSink, base: string, count: number) =>
  Effect.gen(function*() {
    const one = yield* measure(child, sink, base, 1, count)
    const three = yield* measure(child, sink, base, 3, count)
    return { count, one, three, load: Os.loadavg() } satisfies Result
  })

export const render = (result: Result): string =>
  [
    `### The outbox on PostgreSQL (${rate(result.count)} messages of 2 KB, \`enqueueAll\` (100 at a time) to Sent, ` +
    `each runner pool(4), runners started together, ${settle / 1000} s to share the shards)`,
    "",
    `load average (1, 5, 15 min) when it ended: ${result.load.map((l) => l.toFixed(2)).join(" ")}`,
    "",
    markdown(["runners", "Sent/s", "not Sent", "target", ""], [
      ["1", rate(result.one.rate), String(result.one.notSent), "", ""],
      ["3", rate(result.three.rate), String(result.three.notSent), "", ""],
      [
        "3 / 1",
        ratio(result.three.rate / result.one.rate),
        "",
        "≥ 2×",
        verdict(result.three.rate / result.one.rate, { atLeast: 2 })
      ]
    ])
  ].join("\n")
