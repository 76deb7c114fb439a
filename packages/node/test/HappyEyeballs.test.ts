import { SmtpMetrics } from "@effect-smtp/client/SmtpMetrics"
import type { SocketConnectEvent } from "@effect-smtp/client/SmtpMetrics"
import { Socket } from "@effect-smtp/client/Socket"
import type { Connection, ConnectOptions } from "@effect-smtp/client/Socket"
import { NodeSocket } from "@effect-smtp/node"
import { fc, prop } from "@effect-smtp/test-utils/property"
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { orderAddresses, staggeredRace } from "../src/internal/happyEyeballs.js"
import { eventually, hangingListener, realDelay, serve, synSentTo, untilSleeping } from "./utils/sockets.js"

// ---------------------------------------------------------------------------
// Helpers

const connectWith = (options: ConnectOptions, socketOptions: NodeSocket.NodeSocketOptions) => {
  const events: Array<SocketConnectEvent> = []
  const metrics = Layer.succeed(SmtpMetrics, {
    socketConnect: (event) => Effect.sync(() => void events.push(event)),
    clientConnect: () => Effect.void,
    connectionEnd: () => Effect.void,
    messageSend: () => Effect.void
  })
  const socketLayer = NodeSocket.layerWith(socketOptions).pipe(Layer.provide(metrics))
  return {
    events,
    connect: Effect.flatMap(Socket, (socket) => socket.connect(options)).pipe(Effect.provide(socketLayer))
  }
}

/** Resolves "mail.test" (and only it) to `addresses`, in that order. */
const mapping = (...addresses: ReadonlyArray<NodeSocket.ResolvedAddress>) => (host: string) =>
  host === "mail.test" ? Effect.succeed(addresses) : Effect.die(`unexpected lookup of ${host}`)

const v4 = (address: string): NodeSocket.ResolvedAddress => ({ address, family: 4 })
const v6 = (address: string): NodeSocket.ResolvedAddress => ({ address, family: 6 })

const echoServer = () =>
  Net.createServer((socket) => {
    socket.on("data", (chunk) => socket.write(chunk))
  })

const echoes = (connection: Connection, text: string) =>
  Effect.gen(function*() {
    yield* connection.write(new TextEncoder().encode(text))
    const decoder = new TextDecoder()
    let read = ""
    while (read.length < text.length) read += decoder.decode(yield* connection.read, { stream: true })
    return read === text
  })

const summary = (events: ReadonlyArray<SocketConnectEvent>) =>
  events.map((event) => [event.peerAddress, event.outcome._tag, event.durationMs])

/**
 * The black hole is 127.0.0.1:port (connects hang in SYN_SENT); the same port
 * on 127.0.0.2 (also loopback) accepts, so one `ConnectOptions.port` serves both.
 */
const blackHoleAndServer = (server: Net.Server) =>
  Effect.gen(function*() {
    const port = yield* hangingListener
    const served = yield* serve(server, "127.0.0.2", port)
    // The filler left hanging by `hangingListener`.
    expect(synSentTo(port)).toBe(1)
    return served
  })

// ---------------------------------------------------------------------------

describe("Happy Eyeballs", () => {
  describe("address order", () => {
    /** Distinct addresses of random families, in a random resolver order. */
    const addressesArb = fc.array(fc.constantFrom<4 | 6>(4, 6), { maxLength: 12 }).map((families) =>
      families.map((family, i) => family === 4 ? v4(`10.0.0.${i}`) : v6(`2001:db8::${i.toString(16)}`))
    )
    const ofFamily = (addresses: ReadonlyArray<NodeSocket.ResolvedAddress>, family: 4 | 6) =>
      addresses.filter((address) => address.family === family)

    prop(
      "interleaving: IPv6 first, the families alternate until one runs out, each keeps the resolver's order",
      [addressesArb],
      ([addresses]) => {
        const ordered = orderAddresses(addresses)
        const sixes = ofFamily(addresses, 6)
        const fours = ofFamily(addresses, 4)
        const pairs = Math.min(sixes.length, fours.length)
        const rest = sixes.length > fours.length ? 6 : 4
        expect(ordered.map((address) => address.family)).toEqual([
          ...Array.from({ length: pairs }, () => [6, 4]).flat(),
          ...Array.from({ length: addresses.length - 2 * pairs }, () => rest)
        ])
        expect(ofFamily(ordered, 6)).toEqual(sixes)
        expect(ofFamily(ordered, 4)).toEqual(fours)
      },
      { fastCheck: { numRuns: 500 } }
    )

    prop(
      "pinned family: only that family remains, in the resolver's order",
      [addressesArb, fc.constantFrom<4 | 6>(4, 6)],
      ([addresses, family]) => {
        expect(orderAddresses(addresses, family)).toEqual(ofFamily(addresses, family))
      }
    )
  })

  describe("staggeredRace under TestClock", () => {
    /** An attempt that logs its start and end, and succeeds or fails after `after`. */
    const attemptLog = () => {
      const log: Array<string> = []
      const attempt = (name: string, after: Duration.Input, succeed: boolean) =>
        Effect.sync(() => log.push(`start ${name}`)).pipe(
          Effect.andThen(Effect.sleep(after)),
          Effect.andThen(succeed ? Effect.succeed(name) : Effect.fail(`${name} failed`)),
          Effect.onExit((exit) =>
            Effect.sync(() => log.push(`${Exit.hasInterrupts(exit) ? "interrupted" : "ended"} ${name}`))
          )
        )
      return { attempt, log }
    }

    it.effect("the next attempt starts at the delay, not before; the first to succeed wins, the rest is interrupted", () =>
      Effect.gen(function*() {
        const { attempt, log } = attemptLog()
        const fiber = yield* Effect.forkChild(staggeredRace([
          attempt("a", "1 hour", true),
          attempt("b", "100 millis", true),
          attempt("c", "1 millis", true)
        ], Duration.millis(250)))
        yield* TestClock.adjust("249 millis")
        expect(log).toEqual(["start a"])
        yield* TestClock.adjust("1 millis")
        expect(log).toEqual(["start a", "start b"])
        yield* TestClock.adjust("99 millis")
        // c would have started at 500 ms.
        expect(fiber.pollUnsafe()).toBeUndefined()
        yield* TestClock.adjust("1 millis")
        expect(yield* Fiber.join(fiber)).toBe("b")
        expect(log).toEqual(["start a", "start b", "ended b", "interrupted a"])
      }))

    it.effect("a failure starts the next attempt at once; when all fail, the last to fail is the error", () =>
      Effect.gen(function*() {
        const { attempt, log } = attemptLog()
        const fiber = yield* Effect.forkChild(Effect.flip(staggeredRace([
          attempt("a", "10 millis", false),
          attempt("b", "1 second", false),
          attempt("c", "20 millis", false)
        ], Duration.millis(250))))
        yield* TestClock.adjust("10 millis")
        expect(log).toEqual(["start a", "ended a", "start b"])
        yield* TestClock.adjust("250 millis")
        expect(log).toEqual(["start a", "ended a", "start b", "start c"])
        yield* TestClock.adjust("20 millis")
        expect(fiber.pollUnsafe()).toBeUndefined()
        yield* TestClock.adjust("1 second")
        // b ended last: at 1010 ms, after c at 280 ms.
        expect(yield* Fiber.join(fiber)).toBe("b failed")
      }))

    it.effect("an infinite delay (happyEyeballs: false) runs one attempt at a time", () =>
      Effect.gen(function*() {
        const { attempt, log } = attemptLog()
        const fiber = yield* Effect.forkChild(staggeredRace([
          attempt("a", "1 hour", false),
          attempt("b", "1 millis", true)
        ], Duration.infinity))
        yield* TestClock.adjust("59 minutes")
        expect(log).toEqual(["start a"])
        yield* TestClock.adjust("1 hour")
        expect(yield* Fiber.join(fiber)).toBe("b")
      }))
  })

  describe("NodeSocket over loopback, under TestClock", () => {
    it.effect("black-holed first address: the second starts at 250 ms and wins; the first is cut off and closed", () =>
      Effect.gen(function*() {
        const served = yield* blackHoleAndServer(echoServer())
        const port = served.port
        const { connect, events } = connectWith({ host: "mail.test", port }, {
          lookup: mapping(v4("127.0.0.1"), v4("127.0.0.2"))
        })
        const fiber = yield* Effect.forkChild(connect)
        // The first attempt's connect timeout and the Happy Eyeballs delay.
        yield* untilSleeping(2)
        yield* eventually(() => synSentTo(port) === 2, "the first attempt")
        yield* TestClock.adjust("249 millis")
        yield* realDelay(50)
        expect(served.sockets).toHaveLength(0)
        expect(synSentTo(port)).toBe(2)
        expect(events).toHaveLength(0)
        expect(fiber.pollUnsafe()).toBeUndefined()

        yield* TestClock.adjust("1 millis")
        const connection = yield* Fiber.join(fiber)
        expect(connection.remoteAddress).toBe("127.0.0.2")
        expect(connection.host).toBe("mail.test")
        expect(summary(events)).toEqual([
          ["127.0.0.2", "Success", 0],
          ["127.0.0.1", "Interrupted", 250]
        ])
        // The loser's socket is gone by the time connect returns: only the
        // filler still tries.
        expect(synSentTo(port)).toBe(1)
        expect(served.sockets).toHaveLength(1)
        expect(yield* echoes(connection, "EHLO client\r\n")).toBe(true)
      }))

    it.effect("a refused first address starts the next at once, without waiting for the delay", () =>
      Effect.gen(function*() {
        // Listens on 127.0.0.1 only: 127.0.0.2 refuses the same port.
        const { port } = yield* serve(echoServer())
        const { connect, events } = connectWith({ host: "mail.test", port }, {
          lookup: mapping(v4("127.0.0.2"), v4("127.0.0.1")),
          happyEyeballsDelay: "1 hour"
        })
        // The TestClock never moves: no sleep is needed for the second attempt.
        const connection = yield* connect
        expect(connection.remoteAddress).toBe("127.0.0.1")
        expect(events.map((event) => [event.peerAddress, event.outcome._tag])).toEqual([
          ["127.0.0.2", "Failure"],
          ["127.0.0.1", "Success"]
        ])
        expect(events[0]?.outcome).toMatchObject({ error: { _tag: "SocketError", code: "ECONNREFUSED" } })
      }))

    it.effect("happyEyeballs: false waits for the first attempt's timeout before the next", () =>
      Effect.gen(function*() {
        const served = yield* blackHoleAndServer(echoServer())
        const port = served.port
        const { connect, events } = connectWith({ host: "mail.test", port, timeout: "5 seconds" }, {
          lookup: mapping(v4("127.0.0.1"), v4("127.0.0.2")),
          happyEyeballs: false
        })
        const fiber = yield* Effect.forkChild(connect)
        yield* untilSleeping(1)
        yield* TestClock.adjust("4999 millis")
        yield* realDelay(50)
        expect(served.sockets).toHaveLength(0)
        expect(fiber.pollUnsafe()).toBeUndefined()
        yield* TestClock.adjust("1 millis")
        const connection = yield* Fiber.join(fiber)
        expect(connection.remoteAddress).toBe("127.0.0.2")
        expect(events.map((event) => [event.peerAddress, event.outcome._tag])).toEqual([
          ["127.0.0.1", "Failure"],
          ["127.0.0.2", "Success"]
        ])
        expect(events[0]?.outcome).toMatchObject({ error: { _tag: "TimeoutError" } })
        expect(synSentTo(port)).toBe(1)
      }))

    it.effect("implicit TLS runs on the winner, after its TCP connect", () =>
      Effect.gen(function*() {
        const { ca, cert, key } = testCertificates()
        let handshakes = 0
        const served = yield* blackHoleAndServer(Tls.createServer({ key, cert }, (socket) => {
          handshakes++
          socket.on("error", () => {})
          socket.on("data", (chunk) => socket.write(chunk))
        }))
        const { connect, events } = connectWith({ host: "localhost", port: served.port, tls: { ca } }, {
          lookup: (host) => host === "localhost" ? Effect.succeed([v4("127.0.0.1"), v4("127.0.0.2")]) : Effect.die(host)
        })
        const fiber = yield* Effect.forkChild(connect)
        yield* untilSleeping(2)
        yield* TestClock.adjust("250 millis")
        const connection = yield* Fiber.join(fiber)
        expect(yield* connection.isTls).toBe(true)
        expect(connection.remoteAddress).toBe("127.0.0.2")
        // The server sees the handshake end just after the client does.
        yield* eventually(() => handshakes === 1, "the server's side of the handshake")
        expect(summary(events)).toEqual([
          ["127.0.0.2", "Success", 0],
          ["127.0.0.1", "Interrupted", 250]
        ])
        expect(yield* echoes(connection, "NOOP\r\n")).toBe(true)
      }))

    it.effect("happyEyeballsDelay 0: both attempts start at once, one connection is kept, the other socket is closed", () =>
      Effect.gen(function*() {
        const first = yield* serve(echoServer())
        const second = yield* serve(echoServer(), "127.0.0.2", first.port)
        const { connect, events } = connectWith({ host: "mail.test", port: first.port }, {
          lookup: mapping(v4("127.0.0.1"), v4("127.0.0.2")),
          happyEyeballsDelay: 0
        })
        const connection = yield* connect
        expect(yield* echoes(connection, "NOOP\r\n")).toBe(true)
        // Both attempts are recorded. The loser was either cut off in flight
        // or connected a moment too late and was closed at once.
        expect(events.map((event) => event.peerAddress).sort()).toEqual(["127.0.0.1", "127.0.0.2"])
        const winner = events.find((event) => event.peerAddress === connection.remoteAddress)
        expect(winner?.outcome._tag).toBe("Success")
        const [kept, dropped] = connection.remoteAddress === "127.0.0.1" ? [first, second] : [second, first]
        expect(kept.sockets.filter((socket) => !socket.destroyed)).toHaveLength(1)
        yield* eventually(
          () => dropped.sockets.every((socket) => socket.destroyed || socket.readableEnded),
          "the loser's connection to close"
        )
      }))

    it.effect("a pinned family tries only its addresses; none of it is a lookup failure (ENODATA)", () =>
      Effect.gen(function*() {
        const { port } = yield* serve(echoServer())
        const lookup = mapping(v6("::1"), v4("127.0.0.1"))
        const pinned = connectWith({ host: "mail.test", port }, { lookup, family: 4 })
        const connection = yield* pinned.connect
        expect(connection.remoteAddress).toBe("127.0.0.1")
        expect(summary(pinned.events)).toEqual([["127.0.0.1", "Success", 0]])

        const none = connectWith({ host: "mail.test", port }, { lookup: mapping(v4("127.0.0.1")), family: 6 })
        const exit = yield* Effect.exit(none.connect)
        const [reason] = Exit.isFailure(exit) ? exit.cause.reasons : []
        const onlyFailure = Exit.isFailure(exit) && exit.cause.reasons.length === 1 && reason !== undefined &&
            Cause.isFailReason(reason)
          ? reason.error
          : exit
        expect(onlyFailure).toMatchObject({
          _tag: "SocketError",
          operation: "lookup",
          host: "mail.test",
          code: "ENODATA"
        })
        expect(none.events).toHaveLength(0)
      }))
  })
})
