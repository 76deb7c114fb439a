/**
 * The outbox on PostgreSQL with several runner processes (layerCluster):
 * one killed mid-batch, the others finish its messages; the shared rate
 * limit measured at a real `smtp-server`. Needs EFFECT_SMTP_POSTGRES_URL
 * (scripts/services/postgres.sh start prints it; CI starts it).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { countingServer } from "../demo/crash/countingServer.js"
import { startWorker, type Summary } from "../demo/crash/startWorker.js"
import { tally } from "../demo/crash/tally.js"
import { freePort, freshDatabase, until } from "./utils/postgres.js"

const url = process.env.EFFECT_SMTP_POSTGRES_URL

/** Most events in any window of `windowMs` (sliding), and the events' overall rate per window. */
const densest = (times: ReadonlyArray<number>, windowMs: number) => {
  const sorted = [...times].sort((a, b) => a - b)
  let most = 0
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i] - sorted[j] >= windowMs) j++
    most = Math.max(most, i - j + 1)
  }
  const span = sorted.length > 1 ? sorted[sorted.length - 1] - sorted[0] : 0
  return { most, perWindow: span === 0 ? sorted.length : ((sorted.length - 1) / span) * windowMs }
}

describe.skipIf(url === undefined)("layerCluster on PostgreSQL, three runner processes", () => {
  const base = url ?? ""

  it.live(
    "one runner killed mid-batch: the others finish its messages; each ends Sent once or Unknown, none sent twice",
    () =>
      Effect.gen(function*() {
        // A counting server per runner: the test sees which runner delivers, and kills one that does.
        const servers = yield* Effect.all(
          Array.from({ length: 3 }, () => countingServer({ replyDelay: () => Math.random() * 20 }))
        )
        const db = yield* freshDatabase(base)
        const batch = `cluster${Date.now()}`
        const messages = 300
        const common = { OUTBOX_STORE: `pg:${db.url}`, OUTBOX_BATCH: batch, OUTBOX_COUNT: String(messages) }
        // Two runners that only run; the third also enqueues and reports. All three start together: a
        // runner that joins later waits for shards to move to it.
        const reporterEnv = (port: number) => ({
          ...common,
          OUTBOX_SMTP_PORT: String(servers[2].port),
          OUTBOX_RUNNER_PORT: String(port)
        })
        const runners = yield* Effect.forEach(
          [0, 1, 2],
          (i) =>
            Effect.flatMap(freePort, (port) =>
              startWorker(
                i === 2 ? reporterEnv(port) : {
                  ...common,
                  OUTBOX_ENQUEUE: "0",
                  OUTBOX_SMTP_PORT: String(servers[i].port),
                  OUTBOX_RUNNER_PORT: String(port)
                }
              ))
        )
        const delivered = () => servers.reduce((n, server) => n + server.deliveries.length, 0)
        // Mid-batch (every message stored, a sixth delivered), the runner that has delivered the most is
        // killed: its shards hold work. A fixed victim held none in 2 runs of 4, and one of the two that
        // only run held none when the reporter had every batch (1 run of 5), so the kill proved nothing.
        yield* until(() => delivered() >= messages / 6 && runners[2].lines.some((line) => line.startsWith("ENQUEUED")))
        const victim = [0, 1, 2].reduce((most, i) =>
          servers[i].deliveries.length > servers[most].deliveries.length ? i : most
        )
        const deliveredAtKill = delivered()
        const victimDelivered = servers[victim].deliveries.length
        expect(yield* runners[victim].kill).toBe(true)
        // The reporter killed, another takes its place: it stores nothing twice (the same idempotency
        // keys), waits for every message to end, and reports.
        const reporter = victim === 2
          ? yield* Effect.flatMap(freePort, (port) => startWorker(reporterEnv(port)))
          : runners[2]
        const { summary } = yield* reporter.exited
        const counts = new Map<string, number>()
        for (const server of servers) {
          for (const [id, n] of server.counts()) counts.set(id, (counts.get(id) ?? 0) + n)
        }
        const figures = {
          ...tally(batch, summary as ReadonlyArray<Summary>, counts),
          deliveredAtKill,
          victim: victim === 2 ? "reporter" : "runner",
          victimDelivered
        }
        console.log(`multi-runner kill (PostgreSQL): ${JSON.stringify(figures)}`)
        expect(deliveredAtKill).toBeLessThan(messages)
        expect(victimDelivered).toBeGreaterThan(0)
        expect(figures.messages).toBe(messages)
        expect(figures.other).toBe(0)
        expect(figures.lost).toBe(0)
        expect(figures.duplicated).toBe(0)
      }).pipe(Effect.scoped),
    { timeout: 240_000 }
  )

  it.live(
    "the rate limit is shared: three runners together start at most the limit in any interval, measured at the server",
    () =>
      Effect.gen(function*() {
        const server = yield* countingServer()
        const db = yield* freshDatabase(base)
        const batch = `rate${Date.now()}`
        const messages = 60
        const limit = { messages: 10, intervalMs: 1000 }
        const common = {
          OUTBOX_STORE: `pg:${db.url}`,
          OUTBOX_SMTP_PORT: String(server.port),
          OUTBOX_BATCH: batch,
          OUTBOX_COUNT: String(messages),
          OUTBOX_RATE: `${limit.messages}/${limit.intervalMs}`
        }
        yield* startWorker({ ...common, OUTBOX_ENQUEUE: "0", OUTBOX_RUNNER_PORT: String(yield* freePort) })
        yield* startWorker({ ...common, OUTBOX_ENQUEUE: "0", OUTBOX_RUNNER_PORT: String(yield* freePort) })
        const reporter = yield* startWorker({ ...common, OUTBOX_RUNNER_PORT: String(yield* freePort) })
        const { summary } = yield* reporter.exited
        // Every message Sent: runners that register one after the other (a
        // loaded machine) move shards while attempts run, and an attempt past
        // its durable record ends before its shard moves (docs/outbox.md,
        // "Stopping"); before that shield, such a move left one Unknown in 2
        // runs of 5 under load. What is not Sent, with its state and
        // attempts, shows in the failure.
        expect(summary).toHaveLength(messages)
        const ended = summary as ReadonlyArray<Summary>
        expect(ended.filter((s) => s.state !== "Sent")).toEqual([])
        const measured = densest(server.mailFrom, limit.intervalMs)
        const seconds = (Math.max(...server.mailFrom) - Math.min(...server.mailFrom)) / 1000
        console.log(
          `shared rate limit (PostgreSQL, 3 runners): limit ${limit.messages}/${limit.intervalMs} ms; ` +
            `the server saw ${server.mailFrom.length} MAIL FROM in ${seconds.toFixed(2)} s, at most ${measured.most} ` +
            `in any ${limit.intervalMs} ms window, ${measured.perWindow.toFixed(2)} per window on average`
        )
        // Each message started at least once; an attempt cut before its record starts again.
        expect(server.mailFrom.length).toBeGreaterThanOrEqual(messages)
        expect(measured.most).toBeLessThanOrEqual(limit.messages)
        // Not much slower than the limit allows either (slots are (1000 + 250 ms jitter) / 10 apart).
        expect(seconds).toBeLessThan(((messages - 1) * 125) / 1000 * 1.3 + 1)
      }).pipe(Effect.scoped),
    { timeout: 240_000 }
  )
})

if (url === undefined) {
  describe("layerCluster on PostgreSQL", () => {
    it.skip("skipped: set EFFECT_SMTP_POSTGRES_URL to run it (scripts/services/postgres.sh start prints it)", () => {})
  })
}
