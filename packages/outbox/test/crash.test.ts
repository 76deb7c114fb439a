/**
 * The crash test on SQLite: a real worker process, killed with SIGKILL at
 * random points several times over 1,000 messages, sending to a real
 * `smtp-server` that counts deliveries by Message-ID.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as path from "node:path"
import { countingServer } from "../demo/crash/countingServer.js"
import { startWorker, type Summary } from "../demo/crash/startWorker.js"
import { tally } from "../demo/crash/tally.js"
import { tempDatabase } from "./utils/memory.js"

const messages = 1000
const plannedKills = 5

/** A worker's settings: `messages` messages named after `name`, a fresh SQLite file, the server on `port`. */
const workerSettings = (name: string, port: number) =>
  Effect.map(tempDatabase, (db) => {
    const batch = `${name}${Date.now()}`
    const env = {
      OUTBOX_STORE: `sqlite:${path.join(db.dir, "outbox.sqlite")}`,
      OUTBOX_SMTP_PORT: String(port),
      OUTBOX_BATCH: batch,
      OUTBOX_COUNT: String(messages)
    }
    return { batch, env }
  })

/** Waits until the server has taken `target` more deliveries than `before`. */
const deliveredSince = (server: { readonly deliveries: ReadonlyArray<unknown> }, before: number, target: number) =>
  Effect.repeat(
    Effect.sync(() => server.deliveries.length - before >= target),
    { until: (reached) => reached, schedule: Schedule.spaced("5 millis") }
  )

describe("crash test (SQLite, real worker process, SIGKILL)", () => {
  it.live(
    `${messages} messages, the worker killed ${plannedKills} times at random points: each ends Sent exactly once, or Unknown; none lost or duplicated`,
    () =>
      Effect.gen(function*() {
        // The final reply is held back a little, so some kills land between the dot and the reply.
        const server = yield* countingServer({ replyDelay: () => Math.random() * 20 })
        const { batch, env } = yield* workerSettings("crash", server.port)
        let kills = 0
        let deliveredAtKills: Array<number> = []
        let summary: ReadonlyArray<Summary> | undefined = undefined
        for (let run = 0; summary === undefined; run++) {
          expect(run).toBeLessThan(plannedKills + 3)
          summary = yield* Effect.scoped(Effect.gen(function*() {
            const worker = yield* startWorker(env)
            if (run < plannedKills) {
              // Kills are placed by progress, not only by time: the outbox delivers 1,000 messages in a
              // second or two, so a kill timed in seconds alone would often find nothing left to cut.
              const before = server.deliveries.length
              const remaining = messages - before
              const delivered = (target: number) => deliveredSince(server, before, target)
              const somewhere = (share: number) => 1 + Math.floor(Math.random() * Math.max(1, remaining * share))
              if (run === 0) {
                // The first kill anywhere from start-up through enqueueing, or early in delivery.
                yield* Effect.raceAll([
                  Effect.asVoid(worker.exited),
                  Effect.sleep(Duration.millis(1000 + Math.random() * 4000)),
                  delivered(somewhere(1 / 4))
                ])
              } else {
                // The others while messages go out: after this worker delivered some of what is left.
                yield* Effect.race(Effect.asVoid(worker.exited), delivered(somewhere(1 / 3)))
              }
              if (yield* worker.kill) {
                kills++
                deliveredAtKills = [...deliveredAtKills, server.deliveries.length]
              }
            }
            const { summary } = yield* worker.exited
            return summary
          }))
        }
        const figures = { ...tally(batch, summary, server.counts()), kills, deliveredAtKills }
        console.log(`crash test (SQLite): ${JSON.stringify(figures)}`)
        expect(figures.messages).toBe(messages)
        expect(figures.other).toBe(0)
        expect(figures.lost).toBe(0)
        expect(figures.duplicated).toBe(0)
        expect(figures.sent + figures.unknown).toBe(messages)
        // Kills that found nothing to interrupt would make this test prove nothing.
        expect(kills).toBeGreaterThanOrEqual(3)
        expect(deliveredAtKills.some((n) => n > 0 && n < messages)).toBe(true)
      }).pipe(Effect.scoped),
    { timeout: 300_000 }
  )
})

const plannedStops = 3

describe("graceful stop (SQLite, real worker process, SIGTERM)", () => {
  it.live(
    `${messages} messages, the worker stopped ${plannedStops} times while it delivers: each ends Sent exactly once, none Unknown`,
    () =>
      Effect.gen(function*() {
        // Each final reply comes 20 to 40 ms after the end of the message, so every stop finds attempts
        // between their durable record and their reply (8 pooled connections): those the stop waits for.
        // And a worker's share takes longer than the 2 s a stopping runner gives its workflows to end
        // on their own (layers.ts), so the stop does cut attempts.
        const server = yield* countingServer({ replyDelay: () => 20 + Math.random() * 20 })
        const { batch, env } = yield* workerSettings("stop", server.port)
        let stops = 0
        let deliveredAtStops: Array<number> = []
        let stopMs: Array<number> = []
        let summary: ReadonlyArray<Summary> | undefined = undefined
        for (let run = 0; summary === undefined; run++) {
          expect(run).toBeLessThan(plannedStops + 3)
          summary = yield* Effect.scoped(Effect.gen(function*() {
            const worker = yield* startWorker(env)
            if (run < plannedStops) {
              // After this worker delivered some of what is left: the stop lands mid-delivery.
              const before = server.deliveries.length
              const target = 1 + Math.floor(Math.random() * Math.max(1, (messages - before) / 4))
              yield* Effect.race(Effect.asVoid(worker.exited), deliveredSince(server, before, target))
              if (yield* worker.stop) {
                stops++
                deliveredAtStops = [...deliveredAtStops, server.deliveries.length]
              }
            }
            const stoppedAt = performance.now()
            // A stopped worker exits on its own, with 0 (exited fails otherwise), within the stop's bound.
            const { summary } = yield* Effect.timeoutOrElse(worker.exited, {
              duration: "20 seconds",
              orElse: () => Effect.die(new Error("the worker did not stop within 20 s of SIGTERM"))
            })
            if (summary === undefined) stopMs = [...stopMs, Math.round(performance.now() - stoppedAt)]
            return summary
          }))
        }
        const figures = { ...tally(batch, summary, server.counts()), stops, deliveredAtStops, stopMs }
        console.log(`graceful stop (SQLite): ${JSON.stringify(figures)}`)
        expect(figures.messages).toBe(messages)
        expect(figures.other).toBe(0)
        expect(figures.lost).toBe(0)
        expect(figures.duplicated).toBe(0)
        // What a stop changes from a crash: nothing is left Unknown.
        expect(figures.unknown).toBe(0)
        expect(figures.sent).toBe(messages)
        expect(stops).toBeGreaterThanOrEqual(2)
        expect(deliveredAtStops.some((n) => n > 0 && n < messages)).toBe(true)
      }).pipe(Effect.scoped),
    { timeout: 300_000 }
  )
})
