/**
 * A worker process for the crash demo and the crash and cluster tests
 * (kept with the demo, which must not reach into test/): enqueues a batch
 * (with idempotency keys, so a restarted worker enqueues nothing twice), lets the outbox send
 * it, and prints `SUMMARY <json>` once no message is pending. Killed with
 * SIGKILL (a crash) or stopped with SIGTERM (a graceful stop) at random
 * points by the tests; a restart picks up where the database says it stands.
 *
 *   OUTBOX_STORE=sqlite:<file> | pg:<url>   where the outbox lives
 *   OUTBOX_SMTP_PORT                          the counting server on 127.0.0.1
 *   OUTBOX_BATCH, OUTBOX_COUNT                message names and how many
 *   OUTBOX_RUNNER_PORT                        this runner's port (pg only)
 *   OUTBOX_RATE                               "messages/millis" shared rate limit (optional)
 *   OUTBOX_ENQUEUE                            "0" to only run (another process enqueues)
 */
import type { SmtpClient } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { SmtpOutbox } from "../../src/index.js"
import { testMessage } from "./countingServer.js"

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

const store = env("OUTBOX_STORE")
const batch = env("OUTBOX_BATCH")
const count = Number(env("OUTBOX_COUNT"))
const rate = process.env.OUTBOX_RATE?.split("/").map(Number)

const options: SmtpOutbox.Options = {
  retry: Schedule.max([Schedule.spaced("200 millis"), Schedule.recurs(100)]),
  metricsInterval: "1 hour",
  rateLimit: rate === undefined ? undefined : { messages: rate[0], interval: Duration.millis(rate[1]) }
}

const outbox: Layer.Layer<SmtpOutbox.SmtpOutbox, unknown, SmtpClient> = store.startsWith("sqlite:")
  ? SmtpOutbox.layerSqlite({ ...options, filename: store.slice("sqlite:".length) })
  : SmtpOutbox.layerCluster({
    ...options,
    runnerAddress: { host: "127.0.0.1", port: Number(env("OUTBOX_RUNNER_PORT")) },
    // A dead runner's shards move within seconds, not the default minute.
    shardingConfig: { shardsPerGroup: 30, runnerHealthCheckInterval: Duration.seconds(2) }
  }).pipe(Layer.provide(PgClient.layer({ url: Redacted.make(store.slice("pg:".length)) })))

const client = NodeSmtp.layer({
  host: "127.0.0.1",
  port: Number(env("OUTBOX_SMTP_PORT")),
  security: "none",
  timeout: "10 seconds",
  pool: { maxConnections: 8 }
})

const program = Effect.gen(function*() {
  const ids = yield* Effect.forEach(
    Array.from({ length: count }, (_, n) => n),
    (n) => SmtpOutbox.enqueue(testMessage(batch, n), { idempotencyKey: `${batch}-${n}` }),
    { concurrency: 32 }
  )
  process.stdout.write(`ENQUEUED ${ids.length}\n`)
  while (true) {
    const statuses = yield* Effect.forEach(ids, (id) => SmtpOutbox.status(id), { concurrency: 32 })
    const pending = statuses.filter((s) => s._tag === "Pending").length
    process.stdout.write(`PROGRESS pending=${pending}\n`)
    if (pending === 0) {
      const summary = statuses.map((s, n) => ({ n, state: s._tag, attempts: s.attempts }))
      process.stdout.write(`SUMMARY ${JSON.stringify(summary)}\n`)
      return
    }
    yield* Effect.sleep("300 millis")
  }
})

const runOnly = Effect.gen(function*() {
  yield* SmtpOutbox.SmtpOutbox
  process.stdout.write("RUNNING\n")
  return yield* Effect.never
})

const main = Effect.runFork(
  (process.env.OUTBOX_ENQUEUE === "0" ? runOnly : program).pipe(
    Effect.provide(outbox.pipe(Layer.provide(client))),
    Effect.scoped
  )
)
// SIGTERM is a graceful stop, as a process manager asks for one: the
// program is interrupted and the layers close (the outbox lets the
// attempts past their durable record end first); the exit code says the
// stop itself went well.
let stopping = false
process.on("SIGTERM", () => {
  stopping = true
  main.interruptUnsafe()
})
main.addObserver((exit) => {
  if (Exit.isSuccess(exit) || (stopping && Cause.hasInterruptsOnly(exit.cause))) {
    process.exit(0)
  }
  process.stderr.write(`worker failed: ${Cause.pretty(exit.cause)}\n`)
  process.exit(1)
})
