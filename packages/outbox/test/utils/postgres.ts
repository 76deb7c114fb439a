/** What the PostgreSQL cluster tests share: a database per test, a free port per runner, a bounded wait. */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as SqlClient from "effect/sql/SqlClient"
import * as net from "node:net"

/** A database of its own for one test, dropped afterwards. */
export const freshDatabase = (base: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const name = `outbox_${Date.now()}_${Math.floor(Math.random() * 1e6)}`
      yield* Effect.scoped(Effect.gen(function*() {
        const sql = yield* PgClient.make({ url: Redacted.make(base) })
        yield* sql.unsafe(`CREATE DATABASE ${name}`)
      })).pipe(Effect.provide(Reactivity.layer))
      const target = new URL(base)
      target.pathname = `/${name}`
      return { name, url: target.toString() }
    }),
    ({ name }) =>
      Effect.scoped(Effect.gen(function*() {
        const sql: SqlClient.SqlClient = yield* PgClient.make({ url: Redacted.make(base) })
        yield* sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      })).pipe(Effect.provide(Reactivity.layer), Effect.orDie)
  ).pipe(Effect.orDie)

/** A TCP port free a moment ago, for a runner (the cluster needs to know it up front). */
export const freePort = Effect.callback<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Waits until `condition` holds, checking every 20 ms (the test's own timeout bounds it). */
export const until = (condition: () => boolean) =>
  Effect.repeat(Effect.sync(condition), { until: (ok) => ok, schedule: Schedule.spaced("20 millis") })
