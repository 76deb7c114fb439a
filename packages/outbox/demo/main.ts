/**
 * pnpm demo:outbox — the outbox surviving a crash: a worker process enqueues
 * a batch on SQLite and sends it to an embedded SMTP server; it is killed
 * with SIGKILL halfway, started again, and finishes. The server counts every
 * delivery by Message-ID: each message arrives once.
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { countingServer } from "./crash/countingServer.js"
import { startWorker } from "./crash/startWorker.js"
import { tally } from "./crash/tally.js"

const messages = Number(process.env.OUTBOX_DEMO_MESSAGES ?? 200)
const say = (line: string) => Effect.sync(() => process.stdout.write(`${line}\n`))

const demo = Effect.gen(function*() {
  const server = yield* countingServer({ replyDelay: () => Math.random() * 20 })
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "outbox-demo-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
  const batch = `demo${Date.now()}`
  const env = {
    OUTBOX_STORE: `sqlite:${path.join(dir, "outbox.sqlite")}`,
    OUTBOX_SMTP_PORT: String(server.port),
    OUTBOX_BATCH: batch,
    OUTBOX_COUNT: String(messages)
  }
  yield* say(`SMTP server on 127.0.0.1:${server.port}; outbox in ${env.OUTBOX_STORE}`)
  yield* say(`1. a worker enqueues ${messages} messages (idempotency keys ${batch}-0..${messages - 1}) and sends them`)
  yield* Effect.scoped(Effect.gen(function*() {
    const worker = yield* startWorker(env)
    yield* Effect.repeat(Effect.sync(() => server.deliveries.length >= messages / 2), {
      until: (half) => half,
      schedule: Schedule.spaced("20 millis")
    })
    yield* worker.kill
    yield* say(`2. killed it with SIGKILL after ${server.deliveries.length} deliveries`)
    yield* worker.exited
  }))
  yield* say(
    "3. a new worker starts on the same file: it enqueues the batch again (nothing is stored twice) and resumes"
  )
  const summary = yield* Effect.scoped(Effect.flatMap(startWorker(env), (worker) => worker.exited))
  if (summary.summary === undefined) return yield* Effect.die(new Error("the second worker printed no summary"))
  const figures = tally(batch, summary.summary, server.counts())
  yield* say("4. what the outbox says, and what the server received:")
  yield* say(`   messages            ${figures.messages}`)
  yield* say(
    `   Sent                ${figures.sent} (of them ${figures.retried} whose attempt was cut before its end, then retried)`
  )
  yield* say(
    `   Unknown             ${figures.unknown} (cut after the durable record; delivered: ${figures.unknownDelivered})`
  )
  yield* say(`   lost                ${figures.lost}`)
  yield* say(`   delivered twice     ${figures.duplicated}`)
  yield* say(`   deliveries in all   ${server.deliveries.length}`)
})

Effect.runPromise(Effect.scoped(demo)).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
