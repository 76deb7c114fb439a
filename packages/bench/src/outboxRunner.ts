/**
 * One outbox runner on PostgreSQL (`layerCluster`) in a process of its own,
 * compiled like the other cases (see outboxPg.ts). It prints `RUNNING` once
 * it has joined the cluster; with a count it then waits (for the other
 * runners' shards to settle), prints `ENQUEUING <epoch ms>`, enqueues that
 * many messages (`enqueueAll`, 100 at a time) and prints `ENQUEUED`. It
 * runs until it is killed.
 *
 * Arguments: sink host, sink port, database URL, runner port, count, wait (ms).
 */
import { NodeSmtp } from "@effect-smtp/node"
import { SmtpOutbox } from "@effect-smtp/outbox"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Message from "./message.js"

const [host, port, url, runnerPort, count, wait] = process.argv.slice(2)

const client = NodeSmtp.layer({
  host,
  port: Number(port),
  security: "none",
  timeout: "30 seconds",
  pool: { maxConnections: 4, maxMessagesPerConnection: Infinity }
})

const outbox = SmtpOutbox.layerCluster({
  runnerAddress: { host: "127.0.0.1", port: Number(runnerPort) },
  metricsInterval: "1 hour"
}).pipe(Layer.provide(PgClient.layer({ url: Redacted.make(url) })), Layer.provide(client))

const program = Effect.gen(function*() {
  yield* SmtpOutbox.SmtpOutbox
  process.stdout.write("RUNNING\n")
  const n = Number(count)
  if (n > 0) {
    yield* Effect.sleep(Number(wait))
    process.stdout.write(`ENQUEUING ${Date.now()}\n`)
    const content = Message.ofSize(2048)
    // Batches of 100: each is sent by one workflow, on whichever runner owns its shard.
    yield* Effect.forEach(
      Array.from({ length: Math.ceil(n / 100) }, (_, b) => b),
      (b) =>
        SmtpOutbox.enqueueAll(
          Array.from({ length: Math.min(100, n - b * 100) }, (_, i) => ({
            mail: { from: Message.from, to: [Message.to], content },
            idempotencyKey: `pg-${b * 100 + i}`
          }))
        ),
      { discard: true }
    )
    process.stdout.write("ENQUEUED\n")
  }
  return yield* Effect.never
})

program.pipe(Effect.provide(outbox), NodeRuntime.runMain)
