/**
 * A warm pool against real servers that drop its connections: smtp-server
 * with a 1 s idle timeout, a server restarted while the pool is idle (every
 * pooled socket reset, then listening again on the same port), and Postfix's
 * `smtpd_timeout` (the IDLE listener of scripts/services/postfix.sh; skipped
 * unless EFFECT_SMTP_POSTFIX_IDLE is set). nodemailer's pool runs each
 * scenario beside ours; its figures are printed, not asserted (another
 * library's behaviour is not ours to test).
 */
import { SmtpClient } from "@effect-smtp/client"
import { type ConnectionEndEvent, SmtpMetrics } from "@effect-smtp/client/SmtpMetrics"
import { NodeSmtp } from "@effect-smtp/node"
import { smtpServer } from "@effect-smtp/test-utils/smtpServer"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import nodemailer from "nodemailer"

interface Tally {
  sent: number
  failed: number
  readonly errors: Array<string>
}

const tally = (): Tally => ({ sent: 0, failed: 0, errors: [] })

const mail = (i: number, to: string) => ({
  from: "pool@example.com",
  to: [to],
  content: `From: pool@example.com\r\nTo: ${to}\r\nSubject: pool ${i}\r\n\r\nmessage ${i}\r\n`
})

/** Our send, counted. */
const ours = (t: Tally, i: number, to: string) =>
  Effect.flatMap(Effect.result(SmtpClient.send(mail(i, to))), (result) =>
    Effect.sync(() => {
      if (result._tag === "Success") t.sent++
      else {
        t.failed++
        t.errors.push(`${result.failure._tag}: ${result.failure.message}`)
      }
    }))

/** nodemailer's pooled transport, as its users configure it for a plain loopback server. */
const nodemailerPool = (port: number, maxConnections: number, host = "127.0.0.1") =>
  nodemailer.createTransport({
    host,
    port,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections,
    maxMessages: 100
  })

type Transporter = ReturnType<typeof nodemailerPool>

const theirs = (transport: Transporter, t: Tally, i: number, to: string) =>
  Effect.promise(() =>
    transport.sendMail({ envelope: { from: "pool@example.com", to: [to] }, raw: mail(i, to).content }).then(
      () => {
        t.sent++
      },
      (error: unknown) => {
        t.failed++
        t.errors.push(String(error))
      }
    )
  )

const report = (scenario: string, our: Tally, their: Tally) =>
  Effect.sync(() => {
    console.info(
      `[pool scenario] ${scenario}: effect-smtp sent ${our.sent} failed ${our.failed}; ` +
        `nodemailer sent ${their.sent} failed ${their.failed}` +
        (their.errors.length > 0 ? ` (first: ${their.errors[0]})` : "")
    )
  })

const pooled = (port: number, maxConnections: number, host = "127.0.0.1") =>
  NodeSmtp.layer({
    host,
    port,
    security: "none",
    pool: { maxConnections, idleTimeToLive: "60 seconds" }
  })

/** Send, wait past the server's idle timeout, send again: with our pool and with nodemailer's. */
const idleScenario = (port: number, wait: number, to: string, host = "127.0.0.1") =>
  Effect.gen(function*() {
    const our = tally()
    yield* Effect.gen(function*() {
      yield* ours(our, 0, to)
      yield* Effect.sleep(wait)
      yield* ours(our, 1, to)
    }).pipe(Effect.provide(pooled(port, 1, host)))
    const their = tally()
    const transport = nodemailerPool(port, 1, host)
    yield* theirs(transport, their, 0, to)
    yield* Effect.sleep(wait)
    yield* theirs(transport, their, 1, to)
    transport.close()
    return { our, their }
  })

/** A plain smtp-server (no STARTTLS) on `port`, for the restart scenarios. */
const restartable = (port = 0) => smtpServer({ port, hideSTARTTLS: true })

/**
 * Warm pool(4) with 8 sends, restart the server while the pool is idle, then
 * 200 sends through it; `during` runs the whole with the client for `port`.
 */
const restartScenario = <E, R>(
  during: (
    port: number,
    run: <R2>(send: (i: number) => Effect.Effect<void, never, R2>) => Effect.Effect<number, never, R2>
  ) => Effect.Effect<number, E, R>
) =>
  Effect.gen(function*() {
    // The restarted server lives in this scope: it closes once `during` is
    // done (the client closed its pool), waiting for open connections to end.
    const scope = yield* Effect.scope
    const first = yield* restartable()
    const port = first.port
    let warmConnections = 0
    const received = yield* during(port, <R2>(send: (i: number) => Effect.Effect<void, never, R2>) =>
      Effect.gen(function*() {
        yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) =>
            i),
          send,
          { concurrency: 8, discard: true }
        )
        warmConnections = yield* first.connections
        yield* first.crash
        const restarted = yield* restartable(port).pipe(Scope.provide(scope))
        yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => 100 + i), send, { concurrency: 16, discard: true })
        return restarted.received.length
      }))
    return { warmConnections, received }
  }).pipe(Effect.scoped)

const postfixIdle = (() => {
  const value = process.env["EFFECT_SMTP_POSTFIX_IDLE"]?.trim()
  const match = value === undefined ? null : /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value)
  if (match === null || match[1] === undefined) return undefined
  const seconds = Number(process.env["EFFECT_SMTP_POSTFIX_IDLE_TIMEOUT"] ?? "2")
  return { host: match[1], port: Number(match[2]), seconds }
})()

describe("a warm pool whose connections the server drops (real servers on loopback)", () => {
  it.live("smtp-server with a 1 s idle timeout: send, wait 1.5 s, send: both sent", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true, socketTimeout: 1000 })
      const { our, their } = yield* idleScenario(server.port, 1500, "b@example.com")
      yield* report("smtp-server socketTimeout 1 s, pool(1), send / 1.5 s / send", our, their)
      expect(our).toEqual({ sent: 2, failed: 0, errors: [] })
      expect(server.received.length).toBe(2 + their.sent)
    }).pipe(Effect.scoped), 20_000)

  it.live(
    "a server restarted while the pool is idle (every pooled socket reset, listening again on the same port): the next 200 sends through pool(4) all succeed",
    () =>
      Effect.gen(function*() {
        const our = tally()
        const ourRun = yield* restartScenario((port, run) =>
          Effect.provide(run((i) => ours(our, i, "b@example.com")), pooled(port, 4))
        )
        const their = tally()
        const theirRun = yield* restartScenario((port, run) => {
          const transport = nodemailerPool(port, 4)
          return Effect.ensuring(
            run((i) => theirs(transport, their, i, "b@example.com")),
            Effect.sync(() => transport.close())
          )
        })
        yield* report(
          `server restarted under an idle pool(4) (${ourRun.warmConnections} / ${theirRun.warmConnections} sockets reset), 8 + 200 sends`,
          our,
          their
        )
        expect(ourRun.warmConnections).toBe(4)
        expect(our.errors).toEqual([])
        expect(our.sent).toBe(208)
        expect(ourRun.received).toBe(200)
      }),
    60_000
  )

  it.live.each(["reset", "end"] as const)(
    "the Node transport's watch: 4 idle pooled sockets the server %s are closed by the pool before any send needs them",
    (how) =>
      Effect.gen(function*() {
        const running = yield* restartable()
        const port = running.port
        const ends: Array<ConnectionEndEvent> = []
        const metrics = Layer.succeed(SmtpMetrics, {
          socketConnect: () => Effect.void,
          clientConnect: () => Effect.void,
          connectionEnd: (event) => Effect.sync(() => ends.push(event)),
          messageSend: () => Effect.void
        })
        const layer = NodeSmtp.layerWithMetrics({
          host: "127.0.0.1",
          port,
          security: "none",
          pool: { maxConnections: 4, idleTimeToLive: "60 seconds" }
        }).pipe(Layer.provide(metrics))
        const our = tally()
        yield* Effect.gen(function*() {
          yield* Effect.forEach([0, 1, 2, 3], (i) => ours(our, i, "b@example.com"), { concurrency: 4, discard: true })
          expect(yield* running.connections).toBe(4)
          yield* running.drop(how)
          for (let waited = 0; waited < 2000 && ends.length < 4; waited += 10) yield* Effect.sleep(10)
          // No send was made: only the watch can have closed them.
          expect(ends.map((e) => e.outcome._tag)).toEqual(["Failure", "Failure", "Failure", "Failure"])
        }).pipe(Effect.provide(layer))
        expect(our).toEqual({ sent: 4, failed: 0, errors: [] })
      }).pipe(Effect.scoped),
    20_000
  )

  it.live.skipIf(postfixIdle === undefined)(
    "Postfix with a short smtpd_timeout (EFFECT_SMTP_POSTFIX_IDLE): send, wait past it, send: both sent",
    () =>
      Effect.gen(function*() {
        const target = postfixIdle!
        const { our, their } = yield* idleScenario(
          target.port,
          target.seconds * 1000 + 1500,
          "smtptest@localhost",
          target.host
        )
        yield* report(`Postfix smtpd_timeout ${target.seconds} s, pool(1), send / wait / send`, our, their)
        expect(our).toEqual({ sent: 2, failed: 0, errors: [] })
      }),
    30_000
  )
})
