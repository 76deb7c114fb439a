import { effectProp, fc } from "@effect-smtp/test-utils/property"
import { failure, telemetryEvents } from "@effect-smtp/test-utils/telemetryEvents"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as SmtpError from "../src/SmtpError.js"
import * as SmtpInstruments from "../src/SmtpInstruments.js"
import {
  type AuthenticateEvent,
  type ClientConnectEvent,
  type ConnectionEndEvent,
  type MessageSendEvent,
  SmtpMetrics
} from "../src/SmtpMetrics.js"
import * as SmtpTelemetry from "../src/SmtpTelemetry.js"
import * as SmtpTelemetryProfile from "../src/SmtpTelemetryProfile.js"

// Effect's metric registry is process-wide and vitest runs files (and
// concurrent tests) side by side: every test records under its own
// server.address and reads back only that.
const uniqueHost = () => `${crypto.randomUUID()}.metrics.test`

type Pair = Metric.Metric.Snapshot

const tagsOf = (pair: Pair): Record<string, string> => ({ ...pair.attributes })

const pairsFor = (host: string) =>
  Effect.map(Metric.snapshot, (pairs) => pairs.filter((pair) => tagsOf(pair)["server.address"] === host))

const stringified = (attributes: SmtpTelemetry.Attributes): Record<string, string> =>
  Object.fromEntries(Object.entries(attributes).map(([key, value]) => [key, String(value)]))

const find = (
  pairs: ReadonlyArray<Pair>,
  instrument: SmtpInstruments.Instrument,
  tags: Record<string, string>
) => {
  const found = pairs.filter((pair) => pair.id === instrument.name).filter((pair) => {
    expect(pair.description).toStrictEqual(instrument.description)
    return JSON.stringify(Object.entries(tagsOf(pair)).sort()) === JSON.stringify(Object.entries(tags).sort())
  })
  const [pair, ...rest] = found
  if (pair === undefined || rest.length > 0) {
    throw new Error(`expected one series of ${instrument.name} ${JSON.stringify(tags)}, found ${found.length}`)
  }
  return pair
}

const expectCounter = (pair: Pair, count: number) => {
  expect(pair.type).toBe("Counter")
  if (pair.type === "Counter") {
    // Monotonic: exported by @effect/opentelemetry as a Counter, not an UpDownCounter.
    expect(pair.state.incremental).toBe(true)
    expect(pair.state.count).toBe(count)
  }
}

const expectHistogram = (
  pair: Pair,
  instrument: SmtpInstruments.Histogram,
  values: ReadonlyArray<number>
) => {
  expect(pair.type).toBe("Histogram")
  if (pair.type === "Histogram") {
    expect(pair.state.buckets.map(([boundary]) => boundary)).toStrictEqual([...instrument.boundaries, Infinity])
    expect(pair.state.count).toBe(values.length)
    expect(pair.state.sum).toBeCloseTo(values.reduce((a, b) => a + b, 0), 9)
  }
}

const recordAll = (host: string) =>
  Effect.gen(function*() {
    const metrics = yield* SmtpMetrics
    const all = telemetryEvents(host)
    yield* Effect.forEach(all.socket, metrics.socketConnect, { discard: true })
    yield* Effect.forEach(all.connect, metrics.clientConnect, { discard: true })
    yield* Effect.forEach(all.connection, metrics.connectionEnd, { discard: true })
    yield* Effect.forEach(all.send, metrics.messageSend, { discard: true })
    return all
  })

describe("SmtpMetrics.layer (Effect Metric)", () => {
  it.effect("records every event on the documented instruments, with the documented keys as string tags", () =>
    Effect.gen(function*() {
      const host = uniqueHost()
      const all = yield* recordAll(host)
      const pairs = yield* pairsFor(host)

      expect(new Set(pairs.map((pair) => pair.id))).toStrictEqual(
        new Set(SmtpInstruments.all.map((instrument) => instrument.name))
      )
      // Two instruments per socket, connect and send event, one per connection end.
      expect(pairs).toHaveLength(
        2 * all.socket.length + 2 * all.connect.length + all.connection.length + 2 * all.send.length
      )

      for (const event of all.socket) {
        const tags = stringified(SmtpTelemetry.socketConnectAttributes(event))
        expectCounter(find(pairs, SmtpInstruments.socketConnectCount, tags), 1)
        expectHistogram(
          find(pairs, SmtpInstruments.socketConnectDuration, tags),
          SmtpInstruments.socketConnectDuration,
          [
            event.durationMs
          ]
        )
      }
      for (const event of all.connect) {
        const tags = stringified(SmtpTelemetry.clientAttributes(event))
        expectCounter(find(pairs, SmtpInstruments.clientConnectCount, tags), 1)
        expectHistogram(
          find(pairs, SmtpInstruments.clientConnectDuration, tags),
          SmtpInstruments.clientConnectDuration,
          [
            event.durationMs
          ]
        )
      }
      for (const event of all.connection) {
        const tags = stringified(SmtpTelemetry.clientAttributes(event))
        expectHistogram(
          find(pairs, SmtpInstruments.clientConnectionDuration, tags),
          SmtpInstruments.clientConnectionDuration,
          [event.durationSeconds]
        )
      }
      for (const event of all.send) {
        const tags = stringified(SmtpTelemetry.clientAttributes(event))
        expectCounter(find(pairs, SmtpInstruments.clientSendCount, tags), 1)
        expectHistogram(find(pairs, SmtpInstruments.clientSendDuration, tags), SmtpInstruments.clientSendDuration, [
          event.durationMs
        ])
      }
    }).pipe(Effect.provide(SmtpMetrics.layer)))

  it.effect("carries ints as their decimal text and leaves absent attributes out", () =>
    Effect.gen(function*() {
      const host = uniqueHost()
      yield* recordAll(host)
      const pairs = yield* pairsFor(host)

      const refused = pairs.find((pair) =>
        pair.id === SmtpInstruments.socketConnectCount.name &&
        tagsOf(pair)["socket.connect.result"] === "failed"
      )
      expect(refused && tagsOf(refused)).toStrictEqual({
        "socket.connect.result": "failed",
        "network.peer.address": "192.0.2.2",
        "server.address": host,
        "server.port": "587",
        "error.type": "SocketError",
        "socket.error": "10061"
      })

      const rejected = pairs.find((pair) =>
        pair.id === SmtpInstruments.clientSendCount.name && tagsOf(pair)["smtp.status_code"] === "550"
      )
      expect(rejected && tagsOf(rejected)).toStrictEqual({
        "network.peer.address": "192.0.2.1",
        "server.address": host,
        "server.port": "587",
        "url.scheme": "smtp",
        "error.type": "SmtpCommandError",
        "smtp.status_code": "550"
      })

      const unresolved = pairs.find((pair) =>
        pair.id === SmtpInstruments.clientConnectCount.name && tagsOf(pair)["socket.error"] === "11001"
      )
      // No connection was made: no network.peer.address at all.
      expect(unresolved && Object.keys(tagsOf(unresolved)).sort()).toStrictEqual(
        ["error.type", "server.address", "server.port", "socket.error", "url.scheme"]
      )

      for (const pair of pairs) {
        for (const [key, value] of Object.entries(tagsOf(pair))) expect(value, key).not.toBe("")
      }
    }).pipe(Effect.provide(SmtpMetrics.layer)))

  it.effect("accumulates repeated events with the same attributes on one series", () =>
    Effect.gen(function*() {
      const host = uniqueHost()
      const metrics = yield* SmtpMetrics
      const event: MessageSendEvent = {
        serverAddress: host,
        serverPort: 465,
        scheme: "smtps",
        peerAddress: "192.0.2.9",
        outcome: { _tag: "Success" },
        durationMs: 0
      }
      yield* Effect.forEach([5, 50, 500], (durationMs) => metrics.messageSend({ ...event, durationMs }), {
        discard: true
      })
      const pairs = yield* pairsFor(host)
      const tags = stringified(SmtpTelemetry.clientAttributes(event))
      expectCounter(find(pairs, SmtpInstruments.clientSendCount, tags), 3)
      expectHistogram(find(pairs, SmtpInstruments.clientSendDuration, tags), SmtpInstruments.clientSendDuration, [
        5,
        50,
        500
      ])
    }).pipe(Effect.provide(SmtpMetrics.layer)))

  it.effect("layerWith({ unitTag: true }) adds the instrument's unit as a unit tag", () =>
    Effect.gen(function*() {
      const host = uniqueHost()
      const all = yield* recordAll(host)
      const pairs = yield* pairsFor(host)
      expect(pairs.length).toBeGreaterThan(0)
      for (const pair of pairs) {
        const instrument = SmtpInstruments.all.find((i) => i.name === pair.id)
        expect(tagsOf(pair)["unit"]).toBe(instrument?.unit)
      }
      for (const event of all.connection) {
        find(pairs, SmtpInstruments.clientConnectionDuration, {
          ...stringified(SmtpTelemetry.clientAttributes(event)),
          unit: "s"
        })
      }
    }).pipe(Effect.provide(SmtpMetrics.layerWith({ unitTag: true }))))

  effectProp(
    "for any client event, the Effect tags are exactly SmtpTelemetry.clientAttributes with values stringified",
    [
      fc.record({
        serverPort: fc.integer({ min: 1, max: 65_535 }),
        peerAddress: fc.option(fc.ipV4(), { nil: undefined }),
        scheme: fc.constantFrom<"smtp" | "smtps">("smtp", "smtps"),
        statusCode: fc.option(fc.integer({ min: 400, max: 599 }), { nil: undefined }),
        durationMs: fc.double({ min: 0, max: 200_000, noNaN: true })
      })
    ],
    ([facts]) =>
      Effect.gen(function*() {
        const host = uniqueHost()
        const metrics = yield* SmtpMetrics
        const event: MessageSendEvent = {
          serverAddress: host,
          serverPort: facts.serverPort,
          peerAddress: facts.peerAddress,
          scheme: facts.scheme,
          outcome: facts.statusCode === undefined ?
            { _tag: "Success" } :
            failure(
              new SmtpError.SmtpCommandError({ command: "DATA", statusCode: facts.statusCode, serverMessage: "" })
            ),
          durationMs: facts.durationMs
        }
        yield* metrics.messageSend(event)
        const pairs = yield* pairsFor(host)
        const tags = stringified(SmtpTelemetry.clientAttributes(event))
        expectCounter(find(pairs, SmtpInstruments.clientSendCount, tags), 1)
        expectHistogram(find(pairs, SmtpInstruments.clientSendDuration, tags), SmtpInstruments.clientSendDuration, [
          facts.durationMs
        ])
      }).pipe(Effect.provide(SmtpMetrics.layer)),
    { fastCheck: { numRuns: 50 } }
  )
})

describe("SmtpMetrics.layerWith({ profile: \"shipped\" }) (Effect Metric)", () => {
  const shipped = SmtpTelemetryProfile.shipped
  const operationTags = (operation: SmtpTelemetryProfile.Operation, event: ClientConnectEvent | MessageSendEvent) =>
    stringified(shipped.attributes({ _tag: "Operation", operation, ...event }))

  it.effect("records the five shipped instruments: one operation.* series per operation and outcome, connection.duration from the transport, SDK default buckets", () =>
    Effect.gen(function*() {
      const host = uniqueHost()
      const metrics = yield* SmtpMetrics
      const all = yield* recordAll(host)
      const facts = { serverAddress: host, serverPort: 587, scheme: "smtp" as const, peerAddress: "192.0.2.1" }
      const authenticated: AuthenticateEvent = { ...facts, outcome: { _tag: "Success" }, durationMs: 7 }
      const refused: AuthenticateEvent = {
        ...facts,
        outcome: failure(new SmtpError.AuthenticationError({ reason: "Rejected", statusCode: 535 })),
        durationMs: 9
      }
      yield* Effect.forEach([authenticated, refused], (event) => metrics.authenticate!(event), { discard: true })
      // A connect that failed once TCP was up: an operation and a connection that ended with its error.
      const greetingRefused: ClientConnectEvent = {
        ...facts,
        outcome: failure(new SmtpError.SmtpCommandError({ command: "greeting", statusCode: 421, serverMessage: "" })),
        durationMs: 40,
        transportSeconds: 0.025
      }
      yield* metrics.clientConnect(greetingRefused)
      // A session: its lifetime from the transport, not from the session being ready.
      const ended: ConnectionEndEvent = {
        ...facts,
        outcome: { _tag: "Success" },
        durationSeconds: 2,
        transportSeconds: 2.5
      }
      yield* metrics.connectionEnd(ended)
      const pairs = yield* pairsFor(host)

      expect(new Set(pairs.map((pair) => pair.id))).toStrictEqual(
        new Set(SmtpInstruments.shipped.map((instrument) => instrument.name))
      )
      for (const event of all.socket) {
        const tags = stringified(shipped.attributes({ _tag: "SocketConnect", ...event }))
        expect(Object.keys(tags)).not.toContain("socket.connect.result")
        expectCounter(find(pairs, SmtpInstruments.socketConnectCount, tags), 1)
        expectHistogram(
          find(pairs, SmtpInstruments.shippedSocketConnectDuration, tags),
          SmtpInstruments.shippedSocketConnectDuration,
          [event.durationMs]
        )
      }
      const operations = [
        ...all.connect.map((event) => ["connect", event] as const),
        ["connect", greetingRefused] as const,
        ...[authenticated, refused].map((event) => ["authenticate", event] as const),
        ...all.send.map((event) => ["send", event] as const)
      ]
      for (const [operation, event] of operations) {
        const tags = operationTags(operation, event)
        expect(tags["network.operation"]).toBe(operation)
        expectCounter(find(pairs, SmtpInstruments.operationCount, tags), 1)
        expectHistogram(find(pairs, SmtpInstruments.operationDuration, tags), SmtpInstruments.operationDuration, [
          event.durationMs
        ])
      }
      expect(find(pairs, SmtpInstruments.operationCount, operationTags("send", all.send[1]!))).toBeDefined()
      expect(operationTags("send", all.send[1]!)["error.type"]).toBe("550")
      expect(operationTags("authenticate", refused)["error.type"]).toBe("AuthenticationError")
      // connection.duration: the greeting failure (from the transport) and the ends, each in its own series.
      const connectionTags = (event: ConnectionEndEvent | ClientConnectEvent) =>
        stringified(shipped.attributes({ _tag: "ConnectionEnd", ...event }))
      // The fixture's connection ended by a 421 shares the greeting failure's series (error.type "421").
      const alike = (a: Record<string, string>, b: Record<string, string>) =>
        JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort())
      const refused421 = all.connection.filter((event) => alike(connectionTags(event), connectionTags(greetingRefused)))
      expect(refused421).toHaveLength(1)
      expectHistogram(
        find(pairs, SmtpInstruments.shippedConnectionDuration, connectionTags(greetingRefused)),
        SmtpInstruments.shippedConnectionDuration,
        [0.025, ...refused421.map((event) => event.durationSeconds)]
      )
      const clean = all.connection.filter((event) => event.outcome._tag === "Success")
      expectHistogram(
        find(pairs, SmtpInstruments.shippedConnectionDuration, connectionTags(ended)),
        SmtpInstruments.shippedConnectionDuration,
        // Without transportSeconds the session's own duration is all there is.
        [...clean.map((event) => event.durationSeconds), 2.5]
      )
    }).pipe(Effect.provide(SmtpMetrics.layerWith({ profile: "shipped" }))))

  it.effect("offers the shipped profile to the client, so its spans are named and attributed as MailKit's", () =>
    Effect.gen(function*() {
      const metrics = yield* SmtpMetrics
      expect(metrics.profile).toBe(shipped)
      // Effect's own tracer makes them: no backend tracer of its own.
      expect(metrics.spanTracer).toBeUndefined()
    }).pipe(Effect.provide(SmtpMetrics.layerWith({ profile: "shipped" }))))
})
