/**
 * Every duration the client and the socket report comes from Effect's Clock:
 * under TestClock a scripted server that sleeps known (generated) amounts
 * yields recorded durations equal to the simulated time, to the millisecond
 * (ms histograms) and to the exact quotient (the `s` histogram).
 */
import { SmtpClient, SmtpError, type SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import { effectProp, fc } from "@effect-smtp/test-utils/property"
import { SmtpTestKit, TestSocket } from "@effect-smtp/testing"
import { describe, expect } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/testing/TestClock"
import { untilSleeping } from "./utils/clock.js"

const recorder = SmtpTestKit.metricsRecorder

const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: t\r\n\r\nbody\r\n" }

/** Milliseconds the scripted server waits before each of its replies. */
interface Delays {
  readonly connect: number
  readonly greeting: number
  readonly ehlo: number
  readonly startTls: number
  readonly ehloAfterTls: number
  readonly auth: number
  readonly mail: number
  readonly rcpt: number
  readonly dataInitiation: number
  readonly dataTermination: number
  readonly rset: number
  readonly quit: number
}

const noDelays: Delays = {
  connect: 0,
  greeting: 0,
  ehlo: 0,
  startTls: 0,
  ehloAfterTls: 0,
  auth: 0,
  mail: 0,
  rcpt: 0,
  dataInitiation: 0,
  dataTermination: 0,
  rset: 0,
  quit: 0
}

/** Replies the server gives instead of its usual ones; `"stall"` never replies. */
interface Overrides {
  readonly greeting?: string | "stall" | undefined
  readonly rcpt?: string | undefined
  readonly dataTermination?: string | "stall" | undefined
  readonly quit?: "stall" | undefined
}

/**
 * A server that sleeps `delays` before each reply. Without PIPELINING the
 * client waits for each reply in turn; with it, MAIL, RCPT and DATA go in one
 * write and the replies still come one delay after another: the sums are the same.
 */
const delayedServer =
  (delays: Delays, options: { readonly pipelining: boolean; readonly overrides?: Overrides }) =>
  (server: TestSocket.ServerSide) =>
    Effect.gen(function*() {
      const overrides = options.overrides ?? {}
      const wait = (ms: number) => Effect.sleep(Duration.millis(ms))
      yield* wait(delays.greeting)
      if (overrides.greeting === "stall") return yield* Effect.never
      yield* server.send(`${overrides.greeting ?? "220 delayed.test ESMTP"}\r\n`)
      while (true) {
        const line = yield* server.readLine
        const verb = line.split(/[ :]/)[0]!.toUpperCase()
        if (verb === "EHLO") {
          const tls = yield* server.isTls
          yield* wait(tls ? delays.ehloAfterTls : delays.ehlo)
          const keywords = [
            ...(options.pipelining ? ["PIPELINING"] : []),
            "AUTH PLAIN LOGIN",
            ...(tls ? [] : ["STARTTLS"])
          ]
          const lines = ["delayed.test", ...keywords]
          yield* server.send(lines.map((l, i) => `250${i === lines.length - 1 ? " " : "-"}${l}\r\n`).join(""))
        } else if (verb === "STARTTLS") {
          yield* wait(delays.startTls)
          yield* server.send("220 2.0.0 go ahead\r\n")
        } else if (verb === "AUTH") {
          yield* wait(delays.auth)
          yield* server.send("235 2.7.0 accepted\r\n")
        } else if (verb === "MAIL") {
          yield* wait(delays.mail)
          yield* server.send("250 2.1.0 ok\r\n")
        } else if (verb === "RCPT") {
          yield* wait(delays.rcpt)
          yield* server.send(`${overrides.rcpt ?? "250 2.1.5 ok"}\r\n`)
        } else if (verb === "DATA") {
          yield* wait(delays.dataInitiation)
          if (overrides.rcpt !== undefined) {
            yield* server.send("554 5.5.1 no valid recipients\r\n")
            continue
          }
          yield* server.send("354 go ahead\r\n")
          yield* server.readData
          yield* wait(delays.dataTermination)
          if (overrides.dataTermination === "stall") return yield* Effect.never
          yield* server.send(`${overrides.dataTermination ?? "250 2.0.0 queued"}\r\n`)
        } else if (verb === "RSET") {
          yield* wait(delays.rset)
          yield* server.send("250 2.0.0 ok\r\n")
        } else if (verb === "QUIT") {
          yield* wait(delays.quit)
          if (overrides.quit === "stall") return yield* Effect.never
          yield* server.send("221 2.0.0 bye\r\n")
          return
        } else {
          yield* server.send("502 5.5.2 what\r\n")
        }
      }
    })

const clientLayer = (
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  metrics: Layer.Layer<SmtpMetrics>,
  beforeConnect: TestSocket.Options["beforeConnect"],
  options: Partial<SmtpClient.Options> = {}
) =>
  SmtpClient.layer({ host: "mail.test", port: 587, security: "starttls", ...options }).pipe(
    Layer.provide(SmtpProtocol.layer),
    Layer.provide(TestSocket.layer(script, { remoteAddress: "192.0.2.7", beforeConnect })),
    Layer.provide(metrics)
  )

const auth = { user: "user", password: Redacted.make("pass"), mechanism: "PLAIN" as const }

/** Runs `effect` forked and moves the TestClock by `total`, in one adjustment. */
const runFor = <A, E>(effect: Effect.Effect<A, E>, total: number) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    yield* untilSleeping(fiber)
    yield* TestClock.adjust(Duration.millis(total))
    const exit = fiber.pollUnsafe()
    // Nothing may still be waiting: the simulated time is the whole story.
    expect(exit !== undefined, "finished within the simulated time").toBe(true)
    return yield* Fiber.await(fiber)
  })

const millis = fc.integer({ min: 0, max: 60_000 })
const delaysArbitrary = fc.record({
  connect: millis,
  greeting: millis,
  ehlo: millis,
  startTls: millis,
  ehloAfterTls: millis,
  auth: millis,
  mail: millis,
  rcpt: millis,
  dataInitiation: millis,
  dataTermination: millis,
  rset: millis,
  // QUIT waits at most min(command timeout, 10 s) for its reply: both sides of the cap.
  quit: fc.oneof(fc.integer({ min: 0, max: 9_999 }), fc.integer({ min: 10_001, max: 60_000 }))
})

const numRuns = { fastCheck: { numRuns: 40 } }

describe("telemetry durations equal the simulated time (TestClock)", () => {
  effectProp(
    "property: for any server delays, a successful send records socket connect = the connect sleep, client connect = connect..second EHLO, authenticate = AUTH, send = MAIL..final DATA reply, connection (s) = AUTH..QUIT (and from the transport: greeting..QUIT)",
    { delays: delaysArbitrary, pipelining: fc.boolean() },
    ({ delays, pipelining }) =>
      Effect.gen(function*() {
        const metrics = recorder()
        const layer = clientLayer(
          delayedServer(delays, { pipelining }),
          metrics.layer,
          () => Effect.sleep(Duration.millis(delays.connect)),
          { auth }
        )
        const quitWait = Math.min(delays.quit, 10_000)
        const connect = delays.connect + delays.greeting + delays.ehlo + delays.startTls + delays.ehloAfterTls
        const send = delays.mail + delays.rcpt + delays.dataInitiation + delays.dataTermination
        const exit = yield* runFor(
          SmtpClient.send(mail).pipe(Effect.provide(layer)),
          connect + delays.auth + send + quitWait
        )
        expect(Exit.isSuccess(exit)).toBe(true)

        expect(metrics.tags()).toStrictEqual([
          "socketConnect",
          "clientConnect",
          "authenticate",
          "messageSend",
          "connectionEnd"
        ])
        expect(metrics.socketConnect()[0]!.durationMs).toBe(delays.connect)
        expect(metrics.clientConnect()[0]!.durationMs).toBe(connect)
        // The transport (TCP) up to the session being ready: greeting, EHLO, STARTTLS, EHLO.
        const handshake = connect - delays.connect
        expect(metrics.clientConnect()[0]!.transportSeconds).toBe(handshake / 1000)
        expect(metrics.authenticate()[0]!.durationMs).toBe(delays.auth)
        expect(metrics.messageSend()[0]!.durationMs).toBe(send)
        // Session ready (after the second EHLO) to close: AUTH, the transaction, QUIT.
        expect(metrics.connectionEnd()[0]!.durationSeconds).toBe((delays.auth + send + quitWait) / 1000)
        // From the transport on, as MailKit's code measures a connection.
        expect(metrics.connectionEnd()[0]!.transportSeconds).toBe((handshake + delays.auth + send + quitWait) / 1000)
        for (
          const outcome of [
            metrics.clientConnect()[0]!,
            metrics.authenticate()[0]!,
            metrics.messageSend()[0]!,
            metrics.connectionEnd()[0]!
          ]
        ) {
          expect(outcome.outcome._tag).toBe("Success")
        }
      }),
    numRuns
  )

  effectProp(
    "property: a server that never answers QUIT holds the close for exactly min(command timeout, 10 s), and connection.duration says so",
    { send: millis, command: fc.integer({ min: 1, max: 30_000 }) },
    ({ command, send }) =>
      Effect.gen(function*() {
        const metrics = recorder()
        const layer = clientLayer(
          delayedServer({ ...noDelays, dataTermination: send }, { pipelining: true, overrides: { quit: "stall" } }),
          metrics.layer,
          undefined,
          { security: "none", timeouts: { command: Duration.millis(command) } }
        )
        // QUIT runs in the session's finalizer, where an effect is uninterruptible:
        // the cap must still cut the wait short.
        const quitWait = Math.min(command, 10_000)
        const exit = yield* runFor(SmtpClient.send(mail).pipe(Effect.provide(layer)), send + quitWait)
        expect(Exit.isSuccess(exit)).toBe(true)
        expect(metrics.connectionEnd()[0]!.durationSeconds).toBe((send + quitWait) / 1000)
        expect(metrics.connectionEnd()[0]!.outcome._tag).toBe("Success")
      }),
    numRuns
  )

  effectProp(
    "property: a refused TCP connect records socket and client connect durations equal to the time the refusal took",
    { connect: millis },
    ({ connect }) =>
      Effect.gen(function*() {
        const metrics = recorder()
        const refuse = (options: { readonly host: string; readonly port: number }) =>
          Effect.andThen(
            Effect.sleep(Duration.millis(connect)),
            Effect.fail(
              new SmtpError.SocketError({
                operation: "connect",
                host: options.host,
                port: options.port,
                code: "ECONNREFUSED"
              })
            )
          )
        const layer = clientLayer(delayedServer(noDelays, { pipelining: true }), metrics.layer, refuse)
        const exit = yield* runFor(SmtpClient.send(mail).pipe(Effect.provide(layer)), connect)
        expect(Exit.isFailure(exit)).toBe(true)
        expect(metrics.tags()).toStrictEqual(["socketConnect", "clientConnect"])
        expect(metrics.socketConnect()[0]!.durationMs).toBe(connect)
        expect(metrics.socketConnect()[0]!.outcome._tag).toBe("Failure")
        expect(metrics.clientConnect()[0]!.durationMs).toBe(connect)
        // No transport was established: no connection to end, in any profile.
        expect(metrics.clientConnect()[0]!.transportSeconds).toBeUndefined()
      }),
    numRuns
  )

  effectProp(
    "property: a greeting refused after g ms, or never sent within the greeting timeout t, records client connect = connect + g (or + t) and no connection",
    { connect: millis, greeting: millis, timeout: fc.integer({ min: 1, max: 600_000 }), stall: fc.boolean() },
    ({ connect, greeting, stall, timeout }) =>
      Effect.gen(function*() {
        const metrics = recorder()
        const layer = clientLayer(
          delayedServer({ ...noDelays, greeting: stall ? 0 : greeting }, {
            pipelining: true,
            overrides: { greeting: stall ? "stall" : "554 5.3.2 go away" }
          }),
          metrics.layer,
          () => Effect.sleep(Duration.millis(connect)),
          { timeouts: { greeting: Duration.millis(timeout) } }
        )
        const waited = stall ? timeout : greeting
        // A 554 greeting arriving after the timeout would be a timeout: keep the cases apart.
        fc.pre(stall || greeting < timeout)
        const exit = yield* runFor(SmtpClient.send(mail).pipe(Effect.provide(layer)), connect + waited)
        expect(Exit.isFailure(exit)).toBe(true)
        expect(metrics.tags()).toStrictEqual(["socketConnect", "clientConnect"])
        const event = metrics.clientConnect()[0]!
        expect(event.durationMs).toBe(connect + waited)
        // The transport was up for the wait: the connection MailKit's code would end with the failure.
        expect(event.transportSeconds).toBe(waited / 1000)
        expect(event.outcome._tag === "Failure" && event.outcome.error._tag).toBe(
          stall ? "TimeoutError" : "SmtpCommandError"
        )
      }),
    numRuns
  )

  effectProp(
    "property: when every recipient is refused, the send records MAIL..the failure, which includes the RSET that ends the transaction",
    { delays: delaysArbitrary },
    ({ delays }) =>
      Effect.gen(function*() {
        const metrics = recorder()
        const layer = clientLayer(
          delayedServer({ ...delays, quit: 0 }, { pipelining: false, overrides: { rcpt: "550 5.1.1 no such user" } }),
          metrics.layer,
          () => Effect.sleep(Duration.millis(delays.connect)),
          { security: "none" }
        )
        const connect = delays.connect + delays.greeting + delays.ehlo
        // Without PIPELINING no DATA follows refused recipients; the failed
        // transaction is ended with RSET before the send fails.
        const send = delays.mail + delays.rcpt + delays.rset
        const exit = yield* runFor(SmtpClient.send(mail).pipe(Effect.provide(layer)), connect + send)
        expect(Exit.isFailure(exit)).toBe(true)
        expect(metrics.tags()).toStrictEqual(["socketConnect", "clientConnect", "messageSend", "connectionEnd"])
        expect(metrics.clientConnect()[0]!.durationMs).toBe(connect)
        expect(metrics.messageSend()[0]!.durationMs).toBe(send)
        expect(metrics.connectionEnd()[0]!.durationSeconds).toBe(send / 1000)
      }),
    numRuns
  )

  effectProp(
    "property: a DATA termination timeout t records send = MAIL..DATA + t and a broken connection of the same length in seconds",
    { delays: delaysArbitrary, timeout: fc.integer({ min: 1, max: 600_000 }) },
    ({ delays, timeout }) =>
      Effect.gen(function*() {
        const metrics = recorder()
        const layer = clientLayer(
          delayedServer({ ...delays, dataTermination: 0 }, {
            pipelining: true,
            overrides: { dataTermination: "stall" }
          }),
          metrics.layer,
          () => Effect.sleep(Duration.millis(delays.connect)),
          { security: "none", timeouts: { dataTermination: Duration.millis(timeout) } }
        )
        const connect = delays.connect + delays.greeting + delays.ehlo
        const send = delays.mail + delays.rcpt + delays.dataInitiation + timeout
        const exit = yield* runFor(SmtpClient.send(mail).pipe(Effect.provide(layer)), connect + send)
        expect(Exit.isFailure(exit)).toBe(true)
        expect(metrics.messageSend()[0]!.durationMs).toBe(send)
        const end = metrics.connectionEnd()[0]!
        // Broken: no QUIT, so the session ends at the failure.
        expect(end.durationSeconds).toBe(send / 1000)
        expect(end.outcome._tag === "Failure" && end.outcome.error._tag).toBe("TimeoutError")
      }),
    numRuns
  )

  effectProp(
    "property: interrupting a connect after c ms records socket and client connect durations of c, cancelled",
    { connect: fc.integer({ min: 1, max: 600_000 }) },
    ({ connect }) =>
      Effect.gen(function*() {
        const metrics = recorder()
        const layer = clientLayer(delayedServer(noDelays, { pipelining: true }), metrics.layer, () => Effect.never)
        const fiber = yield* Effect.forkChild(SmtpClient.send(mail).pipe(Effect.provide(layer)))
        yield* TestClock.adjust(Duration.millis(connect))
        yield* Fiber.interrupt(fiber)
        expect(metrics.tags()).toStrictEqual(["socketConnect", "clientConnect"])
        expect(metrics.socketConnect()[0]!.durationMs).toBe(connect)
        expect(metrics.socketConnect()[0]!.outcome._tag).toBe("Interrupted")
        expect(metrics.clientConnect()[0]!.durationMs).toBe(connect)
        expect(metrics.clientConnect()[0]!.outcome._tag).toBe("Interrupted")
      }),
    numRuns
  )

  effectProp(
    "property: interrupting a send x ms after the body was written records send = MAIL..DATA + x and connection = the same, cancelled",
    // Below the DATA termination timeout (10 min), which would fire first.
    { delays: delaysArbitrary, stalled: fc.integer({ min: 0, max: 599_999 }) },
    ({ delays, stalled }) =>
      Effect.gen(function*() {
        const metrics = recorder()
        const layer = clientLayer(
          delayedServer({ ...delays, dataTermination: 0 }, {
            pipelining: true,
            overrides: { dataTermination: "stall" }
          }),
          metrics.layer,
          () => Effect.sleep(Duration.millis(delays.connect)),
          { security: "none" }
        )
        const connect = delays.connect + delays.greeting + delays.ehlo
        const beforeStall = delays.mail + delays.rcpt + delays.dataInitiation
        const fiber = yield* Effect.forkChild(SmtpClient.send(mail).pipe(Effect.provide(layer)))
        yield* untilSleeping(fiber)
        yield* TestClock.adjust(Duration.millis(connect + beforeStall + stalled))
        yield* Fiber.interrupt(fiber)
        expect(metrics.tags()).toStrictEqual(["socketConnect", "clientConnect", "messageSend", "connectionEnd"])
        expect(metrics.messageSend()[0]!.durationMs).toBe(beforeStall + stalled)
        expect(metrics.messageSend()[0]!.outcome._tag).toBe("Interrupted")
        expect(metrics.connectionEnd()[0]!.durationSeconds).toBe((beforeStall + stalled) / 1000)
        expect(metrics.connectionEnd()[0]!.outcome._tag).toBe("Interrupted")
      }),
    numRuns
  )
})
