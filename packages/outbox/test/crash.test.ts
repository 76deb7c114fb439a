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

describe("crash test (SQLite, real worker process, SIGKILL)", () => {
  it.live(
    `${messages} messages, the worker killed ${plannedKills} times at random points: each ends Sent exactly once, or Unknown; none lost or duplicated`,
    () =>
      Effect.gen(function*() {
        // The final reply is held back a little, so some kills land between the dot and the reply.
        const server = yield* countingServer({ replyDelay: () => Math.random() * 20 })
        const db = yield* tempDatabase
        const batch = `crash${Date.now()}`
        const env = {
          OUTBOX_STORE: `sqlite:${path.join(db.dir, "outbox.sqlite")}`,
          OUTBOX_SMTP_PORT: String(server.port),
          OUTBOX_BATCH: batch,
          OUTBOX_COUNT: String(messages)
        }
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
              const delivered = (target: number) =>
                Effect.repeat(
                  Effect.sync(() => server.deliveries.length - before >= target),
                  { until: (reached) => reached, schedule: Schedule.spaced("5 millis") }
                )
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
