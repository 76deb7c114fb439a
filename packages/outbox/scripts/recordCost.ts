/**
 * What the durable record costs per message: the time an attempt waits,
 * just before the end of its message, for the outbox to commit "this attempt
 * is about to send the end" (one UPDATE of the message's row). Measured on
 * SQLite (a file, the driver's default durability) and, when
 * EFFECT_SMTP_POSTGRES_URL is set, PostgreSQL.
 *
 *   pnpm --filter @effect-smtp/outbox measure:record
 */
import * as Reactivity from "effect/reactivity/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import type * as SqlClient from "effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Store from "../src/internal/store.js"

const messages = 500

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]

const measure = (name: string) =>
  Effect.gen(function*() {
    const prefix = `cost_${Date.now()}`
    const store = yield* Store.make(prefix)
    const ids: Array<string> = []
    for (let i = 0; i < messages; i++) {
      const [{ id }] = yield* store.insertAll([{
        id: crypto.randomUUID(),
        idempotencyKey: undefined,
        from: "a@example.com",
        to: ["b@example.com"],
        content: new TextEncoder().encode(`Subject: ${i}\r\n\r\n${"x".repeat(2000)}\r\n`),
        messageId: undefined,
        extra: undefined,
        enqueuedAt: Date.now(),
        sendAt: Date.now(),
        traceId: undefined,
        spanId: undefined,
        batch: undefined
      }])
      ids.push(id)
    }
    // One at a time: what a lone attempt waits before its end.
    const times: Array<number> = []
    for (const id of ids) {
      const started = performance.now()
      yield* store.recordEnd(id, 0, "0/1")
      times.push(performance.now() - started)
    }
    times.sort((a, b) => a - b)
    // 16 at a time: what a busy outbox pays per message.
    const started = performance.now()
    yield* Effect.forEach(ids, (id) => store.recordEnd(id, 0, "0/2"), { concurrency: 16, discard: true })
    const concurrentPerMessage = (performance.now() - started) / ids.length
    const mean = times.reduce((a, b) => a + b, 0) / times.length
    process.stdout.write(
      `${name}: ${messages} records one at a time: mean ${mean.toFixed(3)} ms, median ${
        percentile(times, 0.5).toFixed(3)
      } ms, p99 ${percentile(times, 0.99).toFixed(3)} ms; 16 at a time: ${concurrentPerMessage.toFixed(3)} ms per message\n`
    )
  })

const run = <E>(name: string, layer: Layer.Layer<SqlClient.SqlClient, E>) =>
  Effect.scoped(Effect.provide(measure(name), layer))

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "outbox-cost-"))
const sqlite = SqliteClient.layer({ filename: path.join(dir, "cost.sqlite") })
const url = process.env.EFFECT_SMTP_POSTGRES_URL

Effect.runPromise(
  Effect.gen(function*() {
    yield* run(`SQLite (${os.tmpdir()}, WAL, synchronous=FULL)`, sqlite)
    if (url === undefined) {
      process.stdout.write("PostgreSQL: skipped (set EFFECT_SMTP_POSTGRES_URL; scripts/services/postgres.sh start prints it)\n")
    } else {
      yield* run("PostgreSQL (loopback, synchronous_commit=on)", PgClient.layer({ url: Redacted.make(url) }))
    }
  }).pipe(Effect.provide(Reactivity.layer), Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true }))))
).catch((error) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
