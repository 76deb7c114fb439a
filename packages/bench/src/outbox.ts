/**
 * The outbox beside the client it sends through (issue 22): in one process,
 * against the same smtp-sink, the direct pooled client (pool(4)) and then the
 * outbox on SQLite with one runner delivering through the same kind of
 * client. A delivery counts when the store says `Sent` (read from the
 * database by a read-only connection of its own), never when it is assumed.
 *
 * Rows: single `enqueue` with 32 concurrent callers, `enqueueAll` in
 * batches, end to end (from the first enqueue to the last `Sent`) for each,
 * and the direct client's msg/s, alone and with a synced write before the
 * end of each message: the most that any outbox keeping the durable record
 * before the end can deliver on this disk, so that a run on another machine
 * shows how much of the gap is the disk.
 */
import { SmtpClient } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { SmtpOutbox } from "@effect-smtp/outbox"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as SqlClient from "effect/sql/SqlClient"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Message from "./message.js"

export interface Settings {
  readonly host: string
  readonly port: number
  readonly count: number
  /** Concurrent callers of `enqueue`, and sends in flight for the direct client. */
  readonly callers: number
  /** Messages per `enqueueAll` call. */
  readonly batch: number
  readonly warmUp: number
}

export interface Result {
  readonly count: number
  readonly direct: number
  /**
   * The direct client again, with a small write to a file of its own and
   * its fdatasync before the end of each message: what any outbox that
   * keeps the durable record before the end can reach on this disk.
   */
  readonly directRecorded: number
  readonly enqueue: number
  readonly endToEnd: number
  readonly batchEnqueue: number
  readonly batchEndToEnd: number
  /** `enqueueAll` with every message due in an hour: the store alone, nothing sent meanwhile. */
  readonly batchStoreOnly: number
  /** The direct client and the `enqueueAll` end to end again, each with pool(16). */
  readonly direct16: number
  readonly batchEndToEnd16: number
  /** `enqueueAll` end to end through a client that sends nothing: the outbox's own ceiling. */
  readonly batchEndToEndIdle: number
}

const clientLayer = (settings: Settings, connections = 4): Layer.Layer<SmtpClient> =>
  NodeSmtp.layer({
    host: settings.host,
    port: settings.port,
    security: "none",
    timeout: "30 seconds",
    pool: { maxConnections: connections, maxMessagesPerConnection: Infinity }
  })

/**
 * A client that sends nothing: each send runs the outbox's durable record
 * (`beforeEndOfData`) and returns an accepted result at once. The outbox
 * delivering through it shows what the outbox costs on its own, the ceiling
 * of its end-to-end rate whatever the client and the server.
 */
const idleClient = (settings: Settings): Layer.Layer<SmtpClient> =>
  Layer.effect(
    SmtpClient,
    Effect.gen(function*() {
      const client = yield* SmtpClient
      const service: SmtpClient.Service = {
        ...client,
        send: (mail, options) =>
          Effect.as(options?.beforeEndOfData ?? Effect.void, {
            envelope: "envelope" in mail ? mail.envelope : { from: mail.from, to: mail.to },
            accepted: "envelope" in mail ? mail.envelope.to : mail.to,
            rejected: [],
            recipients: [],
            response: "250 2.0.0 Ok: queued as IDLE",
            statusCode: 250,
            bytesSent: 0,
            timings: { envelopeMs: 0, dataMs: 0 }
          })
      }
      return service
    })
  ).pipe(Layer.provide(clientLayer(settings)))

const mail = (n: number): SmtpClient.Mail => ({
  from: Message.from,
  to: [Message.to],
  content: Message.ofSize(2048).replace("Subject: 2048 bytes", `Subject: ${n}`)
})

const seconds = (since: number) => (performance.now() - since) / 1000

/**
 * The direct pooled client: `count` sends, `callers` in flight; each runs
 * `beforeEnd`, if given, just before the end of its message.
 */
const direct = (settings: Settings, count: number, connections = 4, beforeEnd?: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const client = yield* SmtpClient
    const started = performance.now()
    yield* Effect.forEach(
      Array.from({ length: count }, (_, n) => n),
      (n) => client.send(mail(n), beforeEnd === undefined ? undefined : { beforeEndOfData: beforeEnd }),
      { concurrency: settings.callers, discard: true }
    )
    return count / seconds(started)
  }).pipe(Effect.provide(clientLayer(settings, connections)))

/**
 * Waits until the store holds `count` messages as Sent, reading it every
 * 100 ms through one read-only connection of its own, and returns when the
 * last of them was sent (its `finished_at`, milliseconds on the wall
 * clock): the end is exact whatever the polling, and the polling stays a
 * small load on the process being measured.
 */
const lastSentAt = (filename: string, count: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const sent = sql<{ n: number; last: number | null }>`
      SELECT COUNT(*) AS n, MAX(finished_at) AS last FROM smtp_outbox_messages WHERE state = 'Sent'
    `.pipe(Effect.map((rows) => ({ n: Number(rows[0].n), last: Number(rows[0].last) })))
    const all = yield* sent.pipe(
      Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: ({ n }) => n >= count })
    )
    return all.last
  }).pipe(Effect.provide(SqliteClient.layer({ filename, readonly: true })))

/** A SQLite file in a directory of its own, removed with the scope. */
const freshFile = (name: string) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-smtp-bench-outbox-"))),
      (directory) => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))
    ),
    (directory) => Path.join(directory, `${name}.db`)
  )

/**
 * A record as small as the outbox's, written to a file of 4 MB (each at
 * the next 4 KB, as a log's pages) and synced (fdatasync, off the event
 * loop): the least that "the durable record before the end" costs a
 * message, with no database and no outbox.
 */
const syncedRecords = Effect.gen(function*() {
  const filename = yield* freshFile("records")
  const size = 4 << 20
  const fd = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const fd = Fs.openSync(filename, "w+")
      Fs.writeSync(fd, Buffer.alloc(size))
      Fs.fsyncSync(fd)
      return fd
    }),
    (fd) => Effect.sync(() => Fs.closeSync(fd))
  )
  const record = Buffer.alloc(256, 1)
  let offset = 0
  return Effect.callback<void>((resume) => {
    Fs.writeSync(fd, record, 0, record.length, offset)
    offset = (offset + 4096) % size
    Fs.fdatasync(fd, (error) => resume(error === null ? Effect.void : Effect.die(error)))
  })
})

/** One outbox run on a fresh SQLite file: how fast it stores `count` messages and how fast they end Sent. */
const outboxRun = (
  settings: Settings,
  store: (count: number) => Effect.Effect<unknown, unknown, SmtpOutbox.SmtpOutbox>,
  client: Layer.Layer<SmtpClient> = clientLayer(settings)
) =>
  Effect.gen(function*() {
    const filename = yield* freshFile("outbox")
    const layer = SmtpOutbox.layerSqlite({ filename, metricsInterval: "1 hour" }).pipe(Layer.provide(client))
    return yield* Effect.gen(function*() {
      const started = performance.now()
      const startedAt = Date.now()
      yield* store(settings.count)
      const stored = seconds(started)
      const last = yield* lastSentAt(filename, settings.count)
      return { enqueue: settings.count / stored, endToEnd: settings.count / ((last - startedAt) / 1000) }
    }).pipe(Effect.provide(layer))
  }).pipe(Effect.scoped)

const single = (callers: number) => (count: number) =>
  Effect.forEach(
    Array.from({ length: count }, (_, n) => n),
    (n) => SmtpOutbox.enqueue(mail(n), { idempotencyKey: `single-${n}` }),
    { concurrency: callers, discard: true }
  )

const batched = (batch: number, sendAt?: number) => (count: number) =>
  Effect.forEach(
    Array.from({ length: Math.ceil(count / batch) }, (_, b) => b),
    (b) =>
      SmtpOutbox.enqueueAll(
        Array.from({ length: Math.min(batch, count - b * batch) }, (_, i) => {
          const n = b * batch + i
          return { mail: mail(n), idempotencyKey: `batch-${n}`, sendAt }
        })
      ),
    { discard: true }
  )

export const run = (settings: Settings): Effect.Effect<Result, unknown> =>
  Effect.gen(function*() {
    // Warm-up: the JIT and smtp-sink's first accepts, for the client and the outbox alike.
    yield* direct(settings, settings.warmUp)
    yield* outboxRun({ ...settings, count: settings.warmUp }, single(settings.callers))
    const directRate = yield* direct(settings, settings.count)
    const directRecorded = yield* Effect.scoped(
      Effect.flatMap(syncedRecords, (record) => direct(settings, settings.count, 4, record))
    )
    const one = yield* outboxRun(settings, single(settings.callers))
    // A batch size of 0 leaves the batch rows out.
    const many = settings.batch === 0
      ? { enqueue: NaN, endToEnd: NaN }
      : yield* outboxRun(settings, batched(settings.batch))
    const batchRun = (client?: Layer.Layer<SmtpClient>) =>
      settings.batch === 0
        ? Effect.succeed(NaN)
        : Effect.map(outboxRun(settings, batched(settings.batch), client), (run) => run.endToEnd)
    // Each attempt waits for an fsync on its connection: with more connections, more of them at once.
    const direct16 = settings.batch === 0 ? NaN : yield* direct(settings, settings.count, 16)
    const batchEndToEnd16 = yield* batchRun(clientLayer(settings, 16))
    const batchEndToEndIdle = yield* batchRun(idleClient(settings))
    const storeOnly = settings.batch === 0 ? NaN : yield* Effect.gen(function*() {
      const filename = yield* freshFile("store-only")
      const layer = SmtpOutbox.layerSqlite({ filename, metricsInterval: "1 hour" }).pipe(
        Layer.provide(clientLayer(settings))
      )
      return yield* Effect.gen(function*() {
        const started = performance.now()
        yield* batched(settings.batch, Date.now() + 3600_000)(settings.count)
        return settings.count / seconds(started)
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped)
    return {
      count: settings.count,
      batchStoreOnly: storeOnly,
      direct: directRate,
      directRecorded,
      enqueue: one.enqueue,
      endToEnd: one.endToEnd,
      batchEnqueue: many.enqueue,
      batchEndToEnd: many.endToEnd,
      direct16,
      batchEndToEnd16,
      batchEndToEndIdle
    }
  })
