/**
 * The outbox on PostgreSQL (BENCH_ONLY key "outboxPg", with
 * EFFECT_SMTP_POSTGRES_URL set): one runner, then three runner processes
 * on the same database (a fresh one each time), delivering to smtp-sink.
 * The runners start first; one of them then enqueues the messages, and
 * the rate is from the first enqueue until the store says `Sent` for all
 * (read by this process's own connection).
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as esbuild from "esbuild"
import { spawn } from "node:child_process"
import * as Net from "node:net"
import * as Os from "node:os"
import { fileURLToPath } from "node:url"
import type { SmtpSink } from "./smtpSink.js"
import { markdown, rate, ratio, verdict } from "./table.js"

const source = fileURLToPath(new URL("./outboxRunner.ts", import.meta.url))
const outfile = fileURLToPath(new URL("../node_modules/.cache/outboxRunner.mjs", import.meta.url))

const build = Effect.promise(() =>
  esbuild.build({
    entryPoints: [source],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile,
    logLevel: "warning",
    banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" }
  })
)

const freePort = Effect.callback<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A runner process, killed with the scope; resolves once it printed `line`. */
const runner = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, [outfile, ...args], { stdio: ["ignore", "pipe", "inherit"] })
      let output = ""
      child.stdout.on("data", (data: Buffer) => {
        output += data.toString("utf8")
      })
      return { child, printed: (line: string) => output.includes(`${line}\n`) }
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

/** Messages delivered per second by `runners` runner processes. */
const measure = (sink: SmtpSink, base: string, runners: number, count: number) =>
  withDatabase<number, unknown>(base, (url) =>
    Effect.scoped(Effect.gen(function*() {
      const started: Array<{ readonly printed: (line: string) => boolean }> = []
      for (let i = 1; i < runners; i++) {
        started.push(yield* runner([sink.host, String(sink.port), url, String(yield* freePort), "0"]))
      }
      yield* until(() => started.every((r) => r.printed("RUNNING")))
      const sql = yield* PgClient.make({ url: Redacted.make(url) })
      const enqueuer = yield* runner([sink.host, String(sink.port), url, String(yield* freePort), String(count)])
      yield* until(() => enqueuer.printed("RUNNING"))
      const since = performance.now()
      yield* Effect.forkScoped(Effect.andThen(
        until(() => enqueuer.printed("ENQUEUED")),
        Effect.sync(() =>
          process.stderr.write(
            `${runners} runner(s): enqueued in ${((performance.now() - since) / 1000).toFixed(2)} s\n`
          )
        )
      ))
      yield* Effect.repeat(
        Effect.map(
          Effect.orDie(sql<{ n: string }>`SELECT COUNT(*) AS n FROM smtp_outbox_messages WHERE state = 'Sent'`),
          (rows) => Number(rows[0].n)
        ),
        { until: (sent) => sent >= count, schedule: Schedule.spaced("50 millis") }
      ).pipe(
        // Not all Sent within the time: what the store says, then the run fails.
        Effect.timeoutOrElse({
          duration: "120 seconds",
          orElse: () =>
            Effect.flatMap(
              Effect.orDie(sql<{ state: string; n: string }>`
                SELECT state, COUNT(*) AS n FROM smtp_outbox_messages GROUP BY state
              `),
              (rows) => Effect.die(new Error(`${runners} runner(s): not all Sent in 120 s: ${JSON.stringify(rows)}`))
            )
        })
      )
      const seconds = (performance.now() - since) / 1000
      process.stderr.write(`${runners} runner(s): all Sent in ${seconds.toFixed(2)} s\n`)
      return count / seconds
    })))

export interface Result {
  readonly count: number
  readonly one: number
  readonly three: number
  readonly load: ReadonlyArray<number>
}

export const run = (sink: SmtpSink, base: string, count: number) =>
  Effect.gen(function*() {
    yield* build
    const one = yield* measure(sink, base, 1, count)
    const three = yield* measure(sink, base, 3, count)
    return { count, one, three, load: Os.loadavg() } satisfies Result
  })

export const render = (result: Result): string =>
  [
    `### The outbox on PostgreSQL (${rate(result.count)} messages of 2 KB, \`enqueueAll\` (100 at a time) to Sent, ` +
    "each runner pool(4))",
    "",
    `load average (1, 5, 15 min) when it ended: ${result.load.map((l) => l.toFixed(2)).join(" ")}`,
    "",
    markdown(["runners", "msg/s", "target", ""], [
      ["1", rate(result.one), "", ""],
      ["3", rate(result.three), "", ""],
      ["3 / 1", ratio(result.three / result.one), "≥ 2×", verdict(result.three / result.one, { atLeast: 2 })]
    ])
  ].join("\n")
