/**
 * Conformance of the shipped profile with what MailKit 4.7 to 4.17 emit
 * (shared/spec/mailkit-shipped.md, socket-errors.md), end to end: the real
 * client over node:net / node:tls against the test server of
 * @effect-smtp/testing on loopback (`MisbehavingServer`, well behaved or with
 * a fault), `OtelSmtpMetrics.layer({ profile: "shipped" })` recording
 * into an OpenTelemetry SDK of its own per scenario and making its spans on a
 * `BasicTracerProvider` with an in-memory exporter. Checked on every export:
 * meter names and version, instrument names, kinds, units, descriptions,
 * value types, bucket boundaries (the SDK's defaults: no advice), attribute
 * keys, types and presence, `error.type` values; on every span: the tracer
 * `MailKit.Net.SmtpClient` 0.1, the name, client kind, exactly `url.scheme`,
 * `server.address` and `server.port`, an Ok or Error status, no events.
 *
 * `CONFORMANCE_DUMP=1` prints each scenario's exported data points and spans.
 */
import { SmtpClient, SmtpError, SmtpInstruments } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { MisbehavingServer } from "@effect-smtp/testing/node"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as EffectOtelTracer from "@effect/opentelemetry/OtelTracer"
import * as Resource from "@effect/opentelemetry/Resource"
import { describe, expect, it } from "@effect/vitest"
import * as OtelApi from "@opentelemetry/api"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Version from "effect/Version"
import { OtelSmtpMetrics } from "../src/index.js"
import {
  type Attributes,
  coverage,
  expectDurationsWithin,
  expectExactRecords,
  expectInstrumentShapes,
  type ExportedSpan,
  exportedSpan,
  failureOf,
  instrumentIn,
  interruptedAt,
  loopback,
  mail,
  plaintext,
  pointsOf,
  scenarioOf
} from "./utils/conformance.js"
import type { ExportedMetric } from "./utils/otelSdk.js"
import { alice, password, rawServer, smtpServer, trusted } from "./utils/servers.js"

// The .NET and JavaScript SDKs' default explicit buckets, which a MailKit
// application exports for want of advice.
const sdkDefaultBuckets = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000]

const socketNames = [
  "host_not_found",
  "host_unreachable",
  "network_unreachable",
  "connection_aborted",
  "connection_refused",
  "connection_reset",
  "timed_out",
  "too_many_open_sockets"
]
const typeNames = [
  "SocketError",
  "TlsError",
  "SmtpCommandError",
  "SmtpProtocolError",
  "AuthenticationError",
  "TimeoutError",
  "InvalidInputError"
]
const clientNames = ["secure_connection_error", "protocol_error", "command_error"]

// ---------------------------------------------------------------------------
// What every export must satisfy
// ---------------------------------------------------------------------------

const instrumentOf = instrumentIn(SmtpInstruments.shipped, "five shipped instruments")

const expectShapes = (exported: ReadonlyArray<ExportedMetric>) =>
  expectInstrumentShapes(exported, instrumentOf, (metric, instrument) => {
    expect(metric.scopeVersion, metric.name).toBe("0.1")
    if (instrument.kind === "histogram") {
      // No advice was given: these are the SDK's own defaults.
      for (const point of metric.points) expect(point.boundaries, metric.name).toStrictEqual(sdkDefaultBuckets)
    }
  })

const keysOf = {
  socket: ["network.peer.address", "server.address", "server.port"],
  connection: ["url.scheme", "server.address", "server.port"],
  operation: ["url.scheme", "server.address", "server.port", "network.operation"]
}

/** Keys, value types and error.type values on every data point. */
const expectPresenceRules = (exported: ReadonlyArray<ExportedMetric>) => {
  for (const metric of exported) {
    const kind = metric.name.startsWith("mailkit.net.socket.")
      ? "socket"
      : metric.name.includes(".operation.")
      ? "operation"
      : "connection"
    for (const { attributes } of metric.points) {
      const where = `${metric.name} ${JSON.stringify(attributes)}`
      const keys = Object.keys(attributes).filter((key) => key !== "error.type")
      expect(keys.sort(), where).toStrictEqual([...keysOf[kind]].sort())
      expect(Number.isInteger(attributes["server.port"]), `${where}: server.port is an int`).toBe(true)
      for (const [key, value] of Object.entries(attributes)) {
        if (key === "server.port") continue
        expect(typeof value, `${where}: ${key} is a string`).toBe("string")
        expect(value, `${where}: ${key} is not empty`).not.toBe("")
      }
      const errorType = attributes["error.type"]
      if (errorType !== undefined) {
        const allowed = kind === "socket"
          ? ["cancelled", ...socketNames, ...typeNames]
          : ["cancelled", ...socketNames, ...clientNames, ...typeNames]
        const statusCode = kind !== "socket" && /^[1-9]\d\d$/.test(String(errorType))
        expect(statusCode || allowed.includes(String(errorType)), `${where}: error.type`).toBe(true)
      }
      if (kind === "operation") {
        expect(["connect", "authenticate", "send"], where).toContain(attributes["network.operation"])
      }
      if (kind !== "socket") expect(["smtp", "smtps"], where).toContain(attributes["url.scheme"])
      else expect(attributes["network.peer.address"], where).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    }
  }
}

/** MailKit's span: its tracer, name, kind, three attributes, a bare status, nothing else. */
const expectSpanShapes = (spans: ReadonlyArray<ExportedSpan>) => {
  for (const span of spans) {
    expect(span.scope, span.name).toBe("MailKit.Net.SmtpClient")
    expect(span.scopeVersion, span.name).toBe("0.1")
    expect(["Connect", "Authenticate", "Send"], span.name).toContain(span.name)
    expect(span.kind, span.name).toBe(OtelApi.SpanKind.CLIENT)
    expect(Object.keys(span.attributes).sort(), span.name).toStrictEqual([
      "server.address",
      "server.port",
      "url.scheme"
    ])
    expect(typeof span.attributes["server.port"], span.name).toBe("number")
    expect([OtelApi.SpanStatusCode.OK, OtelApi.SpanStatusCode.ERROR], span.name).toContain(span.status.code)
    expect(span.status.message, `${span.name}: no status text`).toBeUndefined()
    expect(span.events, `${span.name}: no events, no recorded exception`).toStrictEqual([])
    expect(span.links, span.name).toBe(0)
  }
}

// Which instrument and operation was seen succeeding and failing, over every scenario.
const seen = coverage((metric, point) => {
  const operation = point.attributes["network.operation"]
  return operation === undefined ? metric.name : `${metric.name} ${operation}`
})

const scenario = scenarioOf("shipped", (run) => {
  expectShapes(run.exported)
  expectPresenceRules(run.exported)
  expectDurationsWithin(run.exported, run.wallMs)
  expectSpanShapes(run.spans)
  seen.note(run.exported)
})

// ---------------------------------------------------------------------------
// What each scenario must export
// ---------------------------------------------------------------------------

type Operation = "connect" | "authenticate" | "send"

interface Expected {
  /** One socket record per attempted IP (count and duration share the sets). */
  readonly socket: ReadonlyArray<Attributes>
  /** Operation records (operation.count and .duration share the sets). */
  readonly operations: ReadonlyArray<Attributes>
  readonly connection: ReadonlyArray<Attributes>
  /** The spans, in the order they ended, and whether each failed. */
  readonly spans: ReadonlyArray<readonly [string, "ok" | "error"]>
}

const expectRecords = (
  exported: ReadonlyArray<ExportedMetric>,
  spans: ReadonlyArray<ExportedSpan>,
  expected: Expected
) => {
  const table: ReadonlyArray<readonly [SmtpInstruments.Instrument, ReadonlyArray<Attributes>]> = [
    [SmtpInstruments.socketConnectCount, expected.socket],
    [SmtpInstruments.shippedSocketConnectDuration, expected.socket],
    [SmtpInstruments.operationCount, expected.operations],
    [SmtpInstruments.operationDuration, expected.operations],
    [SmtpInstruments.shippedConnectionDuration, expected.connection]
  ]
  expectExactRecords(exported, table)

  // Nothing else: the documented instruments are not recorded.
  expect(exported.filter((m) => pointsOf(exported, instrumentOf(m.name)).length === 0)).toStrictEqual([])
  expect(spans.map((s) => [s.name, s.status.code === OtelApi.SpanStatusCode.ERROR ? "error" : "ok"])).toStrictEqual(
    expected.spans
  )
}

const server = (port: number, scheme: "smtp" | "smtps" = "smtp"): Attributes => ({
  "url.scheme": scheme,
  "server.address": loopback,
  "server.port": port
})
const op = (port: number, operation: Operation, errorType?: string, scheme: "smtp" | "smtps" = "smtp"): Attributes => ({
  ...server(port, scheme),
  "network.operation": operation,
  ...(errorType === undefined ? {} : { "error.type": errorType })
})
const ended = (port: number, errorType?: string, scheme: "smtp" | "smtps" = "smtp"): Attributes => ({
  ...server(port, scheme),
  ...(errorType === undefined ? {} : { "error.type": errorType })
})
const attempt = (port: number, errorType?: string): Attributes => ({
  "network.peer.address": loopback,
  "server.address": loopback,
  "server.port": port,
  ...(errorType === undefined ? {} : { "error.type": errorType })
})

// ---------------------------------------------------------------------------
// The scenarios
// ---------------------------------------------------------------------------

describe("conformance with MailKit's shipped telemetry (profile \"shipped\"), over loopback", () => {
  it.live("success: STARTTLS + AUTH PLAIN records connect, authenticate and send operations, one connection, and the three spans, all without error", () =>
    Effect.gen(function*() {
      const smtp = yield* smtpServer()
      const { exit, exported, spans } = yield* scenario("success", {
        host: loopback,
        port: smtp.port,
        security: "starttls",
        tls: trusted(),
        auth: alice(password)
      }, SmtpClient.send(mail))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect((yield* smtp.messages)[0]?.tls).toBe(true)
      expectRecords(exported, spans, {
        socket: [attempt(smtp.port)],
        operations: [op(smtp.port, "connect"), op(smtp.port, "authenticate"), op(smtp.port, "send")],
        connection: [ended(smtp.port)],
        spans: [["Connect", "ok"], ["Authenticate", "ok"], ["Send", "ok"]]
      })
      expect(exported).toHaveLength(5)
    }))

  it.live("success with implicit TLS: url.scheme is smtps on operations, connection and spans", () =>
    Effect.gen(function*() {
      const smtp = yield* smtpServer("implicit")
      const { exit, exported, spans } = yield* scenario("implicit TLS", {
        host: loopback,
        port: smtp.port,
        security: "tls",
        tls: trusted()
      }, SmtpClient.send(mail))
      expect(Exit.isSuccess(exit)).toBe(true)
      expectRecords(exported, spans, {
        socket: [attempt(smtp.port)],
        operations: [op(smtp.port, "connect", undefined, "smtps"), op(smtp.port, "send", undefined, "smtps")],
        connection: [ended(smtp.port, undefined, "smtps")],
        spans: [["Connect", "ok"], ["Send", "ok"]]
      })
      for (const span of spans) expect(span.attributes["url.scheme"]).toBe("smtps")
    }))

  it.live("connection refused: connection_refused on the socket attempt and the connect operation; no connection was established", () =>
    Effect.gen(function*() {
      const port = yield* MisbehavingServer.closedPort
      const { exit, exported, spans } = yield* scenario(
        "refused",
        plaintext(port),
        SmtpClient.send(mail)
      )
      expect(failureOf(exit)).toBeInstanceOf(SmtpError.SocketError)
      expectRecords(exported, spans, {
        socket: [attempt(port, "connection_refused")],
        operations: [op(port, "connect", "connection_refused")],
        connection: [],
        spans: [["Connect", "error"]]
      })
    }))

  it.live("TLS failure under STARTTLS (untrusted certificate): secure_connection_error on connect, and the connection MailKit had opened at TCP ends with it", () =>
    Effect.gen(function*() {
      const smtp = yield* smtpServer()
      const { exit, exported, spans } = yield* scenario(
        "TLS failure (STARTTLS)",
        { host: loopback, port: smtp.port, security: "starttls" },
        SmtpClient.send(mail)
      )
      expect(failureOf(exit)).toBeInstanceOf(SmtpError.TlsError)
      expectRecords(exported, spans, {
        socket: [attempt(smtp.port)],
        operations: [op(smtp.port, "connect", "secure_connection_error")],
        connection: [ended(smtp.port, "secure_connection_error")],
        spans: [["Connect", "error"]]
      })
    }))

  it.live("TLS failure with implicit TLS (plaintext peer): secure_connection_error on connect; the handshake is part of the transport, so no connection", () =>
    Effect.gen(function*() {
      const raw = yield* rawServer()
      const { exit, exported, spans } = yield* scenario(
        "TLS failure (implicit TLS)",
        { host: loopback, port: raw.port, security: "tls", tls: trusted(), timeout: "5 seconds" },
        SmtpClient.send(mail)
      )
      expect(failureOf(exit)).toBeInstanceOf(SmtpError.TlsError)
      expectRecords(exported, spans, {
        socket: [attempt(raw.port)],
        operations: [op(raw.port, "connect", "secure_connection_error", "smtps")],
        connection: [],
        spans: [["Connect", "error"]]
      })
    }))

  it.live("535 on AUTH: the authenticate operation fails with AuthenticationError (MailKit: its AuthenticationException's type name), no send, a clean connection", () =>
    Effect.gen(function*() {
      const smtp = yield* smtpServer()
      const { exit, exported, spans } = yield* scenario("535", {
        host: loopback,
        port: smtp.port,
        security: "starttls",
        tls: trusted(),
        auth: alice("not the password")
      }, SmtpClient.send(mail))
      const error = failureOf(exit)
      expect(error).toBeInstanceOf(SmtpError.AuthenticationError)
      expect((error as SmtpError.AuthenticationError).statusCode).toBe(535)
      expectRecords(exported, spans, {
        socket: [attempt(smtp.port)],
        operations: [op(smtp.port, "connect"), op(smtp.port, "authenticate", "AuthenticationError")],
        connection: [ended(smtp.port)],
        spans: [["Connect", "ok"], ["Authenticate", "error"]]
      })
    }))

  it.live("550 on every recipient: one send operation with error.type \"550\"; the session itself closed cleanly", () =>
    Effect.gen(function*() {
      const smtp = yield* smtpServer("none")
      const { exit, exported, spans } = yield* scenario(
        "550",
        plaintext(smtp.port),
        SmtpClient.send({ ...mail, to: ["reject-1@example.com", "reject-2@example.com"] })
      )
      expect(failureOf(exit)).toBeInstanceOf(SmtpError.SmtpCommandError)
      expect(yield* smtp.messages).toHaveLength(0)
      expectRecords(exported, spans, {
        socket: [attempt(smtp.port)],
        operations: [op(smtp.port, "connect"), op(smtp.port, "send", "550")],
        connection: [ended(smtp.port)],
        spans: [["Connect", "ok"], ["Send", "error"]]
      })
    }))

  it.live("drop after the greeting (FIN at EHLO): protocol_error on connect and on the connection that ended", () =>
    Effect.gen(function*() {
      const raw = yield* rawServer({ faults: { ehlo: MisbehavingServer.close } })
      const { exit, exported, spans } = yield* scenario(
        "drop after the greeting",
        plaintext(raw.port),
        SmtpClient.send(mail)
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expectRecords(exported, spans, {
        socket: [attempt(raw.port)],
        operations: [op(raw.port, "connect", "protocol_error")],
        connection: [ended(raw.port, "protocol_error")],
        spans: [["Connect", "error"]]
      })
    }))

  it.live("the server resets the session (RST) at MAIL: connection_reset on the send and the connection", () =>
    Effect.gen(function*() {
      const raw = yield* rawServer({ faults: { mail: MisbehavingServer.reset } })
      const { exit, exported, spans } = yield* scenario(
        "reset at MAIL",
        plaintext(raw.port),
        SmtpClient.send(mail)
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expectRecords(exported, spans, {
        socket: [attempt(raw.port)],
        operations: [op(raw.port, "connect"), op(raw.port, "send", "connection_reset")],
        connection: [ended(raw.port, "connection_reset")],
        spans: [["Connect", "ok"], ["Send", "error"]]
      })
    }))

  it.live("interrupted while the server stalls the DATA reply: cancelled on the send and the connection; the Send span is an error, as MailKit's cancelled operation", () =>
    Effect.gen(function*() {
      const raw = yield* rawServer({ faults: { end: MisbehavingServer.stall } })
      const { exported, spans } = yield* scenario(
        "interrupted send",
        plaintext(raw.port),
        interruptedAt(raw, "end", "300 millis")
      )
      expectRecords(exported, spans, {
        socket: [attempt(raw.port)],
        operations: [op(raw.port, "connect"), op(raw.port, "send", "cancelled")],
        connection: [ended(raw.port, "cancelled")],
        spans: [["Connect", "ok"], ["Send", "error"]]
      })
      // Units: 300 ms of stall are >= 300 in ms and >= 0.3 in s.
      const [send] = pointsOf(exported, SmtpInstruments.operationDuration).filter((p) =>
        p.attributes["network.operation"] === "send"
      )
      expect(send!.sum).toBeGreaterThanOrEqual(299)
      expect(pointsOf(exported, SmtpInstruments.shippedConnectionDuration)[0]!.sum).toBeGreaterThanOrEqual(0.299)
    }))

  it.live("interrupted while waiting for the greeting: cancelled on connect, and on the connection TCP had opened", () =>
    Effect.gen(function*() {
      const raw = yield* rawServer({ faults: { greeting: MisbehavingServer.stall } })
      const { exported, spans } = yield* scenario(
        "interrupted connect",
        plaintext(raw.port),
        interruptedAt(raw, "greeting", "100 millis")
      )
      expectRecords(exported, spans, {
        socket: [attempt(raw.port)],
        operations: [op(raw.port, "connect", "cancelled")],
        connection: [ended(raw.port, "cancelled")],
        spans: [["Connect", "error"]]
      })
    }))

  // Runs last (tests in a file run in order).
  it("every instrument, and every operation, was exported with and without error.type by the scenarios above", () => {
    const names = [
      ...SmtpInstruments.shipped.filter((i) => !i.name.includes(".operation.")).map((i) => i.name),
      ...["operation.count", "operation.duration"].flatMap((i) =>
        ["connect", "authenticate", "send"].map((o) => `mailkit.net.smtp.client.${i} ${o}`)
      )
    ]
    seen.expectCovered(names)
  })
})

describe("the shipped spans with @effect/opentelemetry's tracer layers", () => {
  /** Runs a send to `port` inside the caller's span "app.notify", with `tracing` and the shipped backend. */
  const sendTraced = <A>(port: number, tracing: Layer.Layer<A>) =>
    SmtpClient.send(mail).pipe(
      Effect.provide(NodeSmtp.layerWithMetrics({ host: loopback, port, security: "none" })),
      Effect.provide(OtelSmtpMetrics.layer({ profile: "shipped" })),
      Effect.withSpan("app.notify"),
      Effect.provide(tracing)
    )

  /**
   * `scope` is the tracer @effect/opentelemetry made the caller's span on:
   * Effect 4's is always `effect` at Effect's version (Effect 3's was named
   * after the service).
   */
  const expectChildrenOfTheCaller = (spans: ReadonlyArray<ExportedSpan>, scope: string) => {
    const app = spans.find((s) => s.name === "app.notify")!
    expect(app.scope).toBe(scope)
    expect(app.scopeVersion).toBe(Version.getCurrentVersion())
    const mailkit = spans.filter((s) => s.name !== "app.notify")
    expect(mailkit.map((s) => s.name)).toStrictEqual(["Connect", "Send"])
    expectSpanShapes(mailkit)
    for (const span of mailkit) expect(span.parentSpanId, span.name).toBe(app.spanId)
  }

  it("the tag the backend finds a TracerProvider by is @effect/opentelemetry's own", () => {
    expect(OtelSmtpMetrics.EffectOtelTracerProvider.key).toBe(EffectOtelTracer.OtelTracerProvider.key)
  })

  it.live("without a tracerProvider option, the provider @effect/opentelemetry's layers put in context gets the spans, under MailKit.Net.SmtpClient 0.1, children of the caller's span", () =>
    Effect.gen(function*() {
      const smtp = yield* smtpServer("none")
      const exporter = new InMemorySpanExporter()
      const processor = new SimpleSpanProcessor(exporter)
      // OtelTracer.layer with its provider kept in the context (provideMerge), as NodeSdk.layer does not.
      const tracing = EffectOtelTracer.layer.pipe(
        Layer.provideMerge(NodeSdk.layerTracerProvider(processor)),
        Layer.provide(Resource.layer({ serviceName: "conformance" }))
      )
      // Read before the layer's scope closes: shutting the provider down empties the exporter.
      const spans = yield* Effect.scoped(
        Layer.build(tracing).pipe(
          Effect.flatMap((context) => sendTraced(smtp.port, Layer.succeedContext(context))),
          Effect.andThen(Effect.promise(() => processor.forceFlush())),
          Effect.map(() => exporter.getFinishedSpans())
        )
      )
      expectChildrenOfTheCaller(spans.map(exportedSpan), "effect")
      // The service the caller's span was named after in Effect 3 is the resource's in Effect 4.
      expect(spans.find((s) => s.name === "app.notify")!.resource.attributes["service.name"]).toBe("conformance")
    }))

  it.live("without a tracerProvider option nor one in context, a registered global provider gets them (OtelTracer.layerGlobal)", () =>
    Effect.gen(function*() {
      const smtp = yield* smtpServer("none")
      const exporter = new InMemorySpanExporter()
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
      yield* Effect.acquireRelease(
        Effect.sync(() => OtelApi.trace.setGlobalTracerProvider(provider)),
        () => Effect.sync(() => OtelApi.trace.disable())
      )
      yield* sendTraced(smtp.port, EffectOtelTracer.layerGlobal)
      expectChildrenOfTheCaller(exporter.getFinishedSpans().map(exportedSpan), "effect")
    }))
})
