/**
 * Conformance of the exported telemetry with MailKit's documented metrics
 * (the default profile: shared/spec/mailkit-telemetry.md, read through
 * telemetry-notes.md and socket-errors.md), end to end: the real client
 * (`NodeSmtp.layerWithMetrics` over node:net / node:tls) against the test
 * server of @effect-smtp/testing on loopback (`MisbehavingServer`: STARTTLS,
 * implicit TLS, AUTH, and faults at any stage), recording through
 * `OtelSmtpMetrics.layer` into an OpenTelemetry SDK `MeterProvider` whose
 * reader is collected by hand into an `InMemoryMetricExporter`
 * (`utils/conformance.ts`). Each scenario has a provider of its own, so the
 * counts are exact. Real time throughout (timeouts, interruption), hence
 * `live`. The shipped profile: `ConformanceShipped.test.ts`.
 *
 * `CONFORMANCE_DUMP=1` prints each scenario's exported data points.
 */
import { SmtpClient, SmtpError, SmtpInstruments, SmtpMetrics } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { MisbehavingServer } from "@effect-smtp/testing/node"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { describe, expect, it } from "@effect/vitest"
import * as OtelApi from "@opentelemetry/api"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import {
  type Attributes,
  coverage,
  expectDurationsWithin,
  expectExactRecords,
  expectInstrumentShapes,
  failureOf,
  instrumentIn,
  interruptedAt,
  loopback,
  mail,
  plaintext,
  pointsOf,
  scenarioOf
} from "./utils/conformance.js"
import type { ExportedMetric, ExportedPoint } from "./utils/otelSdk.js"
import { alice, password, rawServer, smtpServer, trusted } from "./utils/servers.js"

// ---------------------------------------------------------------------------
// Running a scenario
// ---------------------------------------------------------------------------

/** A scenario under the documented profile, with every check each export must pass. */
const scenario = scenarioOf("documented", (run) => {
  expectShapes(run.exported)
  expectPresenceRules(run.exported)
  expectDurationsWithin(run.exported, run.wallMs)
  seen.note(run.exported)
  // The documented profile's spans are Effect's: none is made by the backend.
  expect(run.spans).toStrictEqual([])
})

// ---------------------------------------------------------------------------
// What every export must satisfy
// ---------------------------------------------------------------------------

const instrumentOf = instrumentIn(SmtpInstruments.all, "seven documented instruments")

/** The documented name, meter, kind, unit, description, value type and buckets. */
const expectShapes = (exported: ReadonlyArray<ExportedMetric>) =>
  expectInstrumentShapes(exported, instrumentOf, (metric, instrument) => {
    // The documented meters carry no version (MailKit's 4.4 draft names none).
    expect(metric.scopeVersion || undefined, metric.name).toBeUndefined()
    if (instrument.kind === "histogram") {
      for (const point of metric.points) expect(point.boundaries).toStrictEqual(instrument.boundaries)
    }
  })

const socketKeys = ["socket.connect.result", "network.peer.address", "server.address", "server.port"]
const clientKeys = ["server.address", "server.port", "url.scheme"]
const intKeys = new Set(["server.port", "smtp.status_code", "socket.error"])

/**
 * The presence rules of the spec and the notes, on every data point: the
 * allowed and the required keys, ints as ints, strings never empty, error
 * attributes only where they apply.
 */
const expectPresenceRules = (exported: ReadonlyArray<ExportedMetric>) => {
  for (const metric of exported) {
    const socket = instrumentOf(metric.name).meter === SmtpInstruments.meters.socket
    for (const { attributes } of metric.points) {
      const where = `${metric.name} ${JSON.stringify(attributes)}`
      const keys = Object.keys(attributes)
      const allowed = socket
        ? [...socketKeys, "error.type", "socket.error"]
        : [...clientKeys, "network.peer.address", "error.type", "smtp.status_code", "socket.error"]
      for (const key of keys) expect(allowed, where).toContain(key)
      for (const key of socket ? socketKeys : clientKeys) expect(keys, where).toContain(key)
      for (const [key, value] of Object.entries(attributes)) {
        if (intKeys.has(key)) {
          expect(typeof value, `${where}: ${key} is an int`).toBe("number")
          expect(Number.isInteger(value), `${where}: ${key} is an int`).toBe(true)
        } else {
          expect(typeof value, `${where}: ${key} is a string`).toBe("string")
          expect(value, `${where}: ${key} is not empty`).not.toBe("")
        }
      }
      const errorType = attributes["error.type"]
      if (socket) {
        const result = attributes["socket.connect.result"]
        expect(["succeeded", "failed", "cancelled"], where).toContain(result)
        expect(errorType === undefined, `${where}: error.type iff not succeeded`).toBe(result === "succeeded")
        expect(errorType === "cancelled", `${where}: cancelled iff interrupted`).toBe(result === "cancelled")
      } else {
        expect(["smtp", "smtps"], where).toContain(attributes["url.scheme"])
        if (attributes["smtp.status_code"] !== undefined) {
          expect(["SmtpCommandError", "AuthenticationError"], `${where}: a status code needs a reply`).toContain(
            errorType
          )
        }
      }
      if (attributes["socket.error"] !== undefined) {
        expect(errorType, `${where}: socket.error only from the socket layer`).toBe("SocketError")
      }
      // The peer is an IP without a port.
      if (attributes["network.peer.address"] !== undefined) {
        expect(attributes["network.peer.address"], where).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
      }
    }
  }
}

// Which instruments were seen succeeding and failing, over every scenario.
const seen = coverage((metric) => metric.name)

// ---------------------------------------------------------------------------
// What each scenario must export
// ---------------------------------------------------------------------------

interface Expected {
  /** One socket connect record per attempted IP (count and duration share the sets). */
  readonly socket: ReadonlyArray<Attributes>
  /** Client connect records (count and duration). */
  readonly connect: ReadonlyArray<Attributes>
  readonly connection: ReadonlyArray<Attributes>
  /** Send records (count and duration). */
  readonly send: ReadonlyArray<Attributes>
}

/** Exactly the expected attribute sets, each recorded exactly once, on every instrument. */
const expectRecords = (exported: ReadonlyArray<ExportedMetric>, expected: Expected) => {
  const table: ReadonlyArray<readonly [SmtpInstruments.Instrument, ReadonlyArray<Attributes>]> = [
    [SmtpInstruments.socketConnectCount, expected.socket],
    [SmtpInstruments.socketConnectDuration, expected.socket],
    [SmtpInstruments.clientConnectCount, expected.connect],
    [SmtpInstruments.clientConnectDuration, expected.connect],
    [SmtpInstruments.clientConnectionDuration, expected.connection],
    [SmtpInstruments.clientSendCount, expected.send],
    [SmtpInstruments.clientSendDuration, expected.send]
  ]
  expectExactRecords(exported, table)
}

const durationOf = (exported: ReadonlyArray<ExportedMetric>, instrument: SmtpInstruments.Histogram): number => {
  const points: ReadonlyArray<ExportedPoint> = pointsOf(exported, instrument)
  expect(points, instrument.name).toHaveLength(1)
  return points[0]!.sum!
}

const socketAttributes = (
  port: number,
  result: "succeeded" | "failed" | "cancelled",
  extra: Attributes = {},
  server = loopback,
  peer = loopback
): Attributes => ({
  "socket.connect.result": result,
  "network.peer.address": peer,
  "server.address": server,
  "server.port": port,
  ...extra
})

const clientAttributes = (port: number, extra: Attributes = {}, server = loopback, scheme = "smtp"): Attributes => ({
  "network.peer.address": loopback,
  "server.address": server,
  "server.port": port,
  "url.scheme": scheme,
  ...extra
})

const refused = { "error.type": "SocketError", "socket.error": 10061 }

// ---------------------------------------------------------------------------
// The scenarios
// ---------------------------------------------------------------------------

describe("conformance with MailKit's documented telemetry, over loopback", () => {
  it.live("success: STARTTLS + AUTH PLAIN to 127.0.0.1 records every instrument once, without error attributes", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer()
      const { exit, exported } = yield* scenario("success", {
        host: loopback,
        port: server.port,
        security: "starttls",
        tls: trusted(),
        auth: alice(password)
      }, SmtpClient.send(mail))
      expect(Exit.isSuccess(exit)).toBe(true)
      const received = yield* server.messages
      expect(received[0]?.tls).toBe(true)
      expect(received[0]?.user).toBe("alice")
      // STARTTLS is still the smtp scheme.
      expectRecords(exported, {
        socket: [socketAttributes(server.port, "succeeded")],
        connect: [clientAttributes(server.port)],
        connection: [clientAttributes(server.port)],
        send: [clientAttributes(server.port)]
      })
      expect(exported).toHaveLength(7)
    }))

  it.live("success with implicit TLS: url.scheme is smtps", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer("implicit")
      const { exit, exported } = yield* scenario("implicit TLS", {
        host: loopback,
        port: server.port,
        security: "tls",
        tls: trusted()
      }, SmtpClient.send(mail))
      expect(Exit.isSuccess(exit)).toBe(true)
      const smtps = clientAttributes(server.port, {}, loopback, "smtps")
      expectRecords(exported, {
        socket: [socketAttributes(server.port, "succeeded")],
        connect: [smtps],
        connection: [smtps],
        send: [smtps]
      })
    }))

  it.live("connection refused on a closed port: socket.error 10061 on the socket and client connect records, no peer on the client's", () =>
    Effect.gen(function*() {
      const port = yield* MisbehavingServer.closedPort
      const { exit, exported } = yield* scenario(
        "refused",
        plaintext(port),
        SmtpClient.send(mail)
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expectRecords(exported, {
        socket: [socketAttributes(port, "failed", refused)],
        // No TCP connection was made: network.peer.address is not "available".
        connect: [{ "server.address": loopback, "server.port": port, "url.scheme": "smtp", ...refused }],
        connection: [],
        send: []
      })
    }))

  it.live("a host name with two addresses, the first refusing: two socket records (failed, succeeded), one client connect success", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer("none")
      const host = "mail.conformance.test"
      const lookup = (name: string) =>
        Effect.sync(() => {
          expect(name).toBe(host)
          // 127.0.0.2 is loopback too, but the server listens on 127.0.0.1 only.
          return [{ address: "127.0.0.2", family: 4 as const }, { address: loopback, family: 4 as const }]
        })
      const { exit, exported } = yield* scenario(
        "two addresses",
        { host, port: server.port, security: "none" },
        SmtpClient.send(mail),
        lookup
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      expectRecords(exported, {
        // server.address is the configured name; network.peer.address the IP tried.
        socket: [
          socketAttributes(server.port, "failed", refused, host, "127.0.0.2"),
          socketAttributes(server.port, "succeeded", {}, host, loopback)
        ],
        connect: [clientAttributes(server.port, {}, host)],
        connection: [clientAttributes(server.port, {}, host)],
        send: [clientAttributes(server.port, {}, host)]
      })
    }))

  it.live("550 on every RCPT: one send failure with smtp.status_code 550; the session itself closed cleanly", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer("none")
      const { exit, exported } = yield* scenario(
        "550",
        plaintext(server.port),
        SmtpClient.send({ ...mail, to: ["reject-1@example.com", "reject-2@example.com"] })
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* server.messages).toHaveLength(0)
      expectRecords(exported, {
        socket: [socketAttributes(server.port, "succeeded")],
        connect: [clientAttributes(server.port)],
        // RSET and QUIT followed: not an involuntary end.
        connection: [clientAttributes(server.port)],
        // One record per message, not per recipient.
        send: [clientAttributes(server.port, { "error.type": "SmtpCommandError", "smtp.status_code": 550 })]
      })
    }))

  it.live("a recipient refused among accepted ones is a successful send", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer("none")
      const { exit, exported } = yield* scenario(
        "mixed recipients",
        plaintext(server.port),
        SmtpClient.send({ ...mail, to: ["reject-1@example.com", "rcpt@example.com"] })
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(pointsOf(exported, SmtpInstruments.clientSendCount).map((p) => p.attributes)).toStrictEqual([
        clientAttributes(server.port)
      ])
    }))

  /*
   * 535 on AUTH. The spec's send instruments time a message "from MAIL FROM
   * written" (telemetry notes: clock starts at MAIL FROM); AUTH failed before
   * any MAIL FROM, so no message was attempted and send.count / send.duration
   * record nothing, as in MailKit, where Authenticate and Send are separate
   * calls and only Send records. The client connect (DNS..second EHLO, not
   * AUTH) succeeded, and the session it opened was then closed by the client
   * (QUIT) on purpose: connection.duration without error attributes. The
   * AuthenticationError with its 535 shows on the `smtp.authenticate` span.
   */
  it.live("535 on AUTH: connect succeeded, no send record (the send never started), a clean connection record", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer()
      const { exit, exported } = yield* scenario("535", {
        host: loopback,
        port: server.port,
        security: "starttls",
        tls: trusted(),
        auth: alice("not the password")
      }, SmtpClient.send(mail))
      const error = failureOf(exit)
      expect(error).toBeInstanceOf(SmtpError.AuthenticationError)
      expect((error as SmtpError.AuthenticationError).statusCode).toBe(535)
      expectRecords(exported, {
        socket: [socketAttributes(server.port, "succeeded")],
        connect: [clientAttributes(server.port)],
        connection: [clientAttributes(server.port)],
        send: []
      })
    }))

  it.live("the server closes the session (FIN) at MAIL: send and connection.duration carry error.type SocketError, no status code, no socket.error", () =>
    Effect.gen(function*() {
      const server = yield* rawServer({ faults: { mail: MisbehavingServer.close } })
      const { exit, exported } = yield* scenario(
        "dropped (FIN)",
        plaintext(server.port),
        SmtpClient.send(mail)
      )
      expect(Exit.isFailure(exit)).toBe(true)
      // A peer that closed without an OS error has no socket.error.
      const dropped = { "error.type": "SocketError" }
      expectRecords(exported, {
        socket: [socketAttributes(server.port, "succeeded")],
        connect: [clientAttributes(server.port)],
        connection: [clientAttributes(server.port, dropped)],
        send: [clientAttributes(server.port, dropped)]
      })
    }))

  it.live("the server resets the session (RST) at MAIL: send and connection.duration carry socket.error 10054", () =>
    Effect.gen(function*() {
      const server = yield* rawServer({ faults: { mail: MisbehavingServer.reset } })
      const { exit, exported } = yield* scenario(
        "dropped (RST)",
        plaintext(server.port),
        SmtpClient.send(mail)
      )
      expect(Exit.isFailure(exit)).toBe(true)
      const reset = { "error.type": "SocketError", "socket.error": 10054 }
      expectRecords(exported, {
        socket: [socketAttributes(server.port, "succeeded")],
        connect: [clientAttributes(server.port)],
        connection: [clientAttributes(server.port, reset)],
        send: [clientAttributes(server.port, reset)]
      })
    }))

  it.live("421 at MAIL: the server ended the session, connection.duration carries smtp.status_code 421", () =>
    Effect.gen(function*() {
      const server = yield* rawServer({ faults: { mail: MisbehavingServer.reply("421 4.3.2 shutting down") } })
      const { exit, exported } = yield* scenario(
        "421",
        plaintext(server.port),
        SmtpClient.send(mail)
      )
      expect(Exit.isFailure(exit)).toBe(true)
      const closing = { "error.type": "SmtpCommandError", "smtp.status_code": 421 }
      expectRecords(exported, {
        socket: [socketAttributes(server.port, "succeeded")],
        connect: [clientAttributes(server.port)],
        connection: [clientAttributes(server.port, closing)],
        send: [clientAttributes(server.port, closing)]
      })
      // A broken session gets no QUIT.
      expect(yield* server.commands).not.toContain("QUIT")
    }))

  it.live("no greeting within 200 ms (real time): client connect fails with TimeoutError, no socket.error, the peer it reached", () =>
    Effect.gen(function*() {
      const server = yield* rawServer({ faults: { greeting: MisbehavingServer.stall } })
      const { exit, exported } = yield* scenario(
        "timeout",
        { host: loopback, port: server.port, security: "none", timeout: "200 millis" },
        SmtpClient.send(mail)
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expectRecords(exported, {
        // The TCP connect itself succeeded.
        socket: [socketAttributes(server.port, "succeeded")],
        connect: [clientAttributes(server.port, { "error.type": "TimeoutError" })],
        connection: [],
        send: []
      })
      expect(durationOf(exported, SmtpInstruments.clientConnectDuration)).toBeGreaterThanOrEqual(199)
    }))

  it.live("interrupted while the server stalls the DATA reply: send and connection.duration carry error.type cancelled", () =>
    Effect.gen(function*() {
      const server = yield* rawServer({ faults: { end: MisbehavingServer.stall } })
      const { exported } = yield* scenario(
        "interrupted send",
        plaintext(server.port),
        interruptedAt(server, "end", "300 millis")
      )
      const cancelled = { "error.type": "cancelled" }
      expectRecords(exported, {
        socket: [socketAttributes(server.port, "succeeded")],
        connect: [clientAttributes(server.port)],
        connection: [clientAttributes(server.port, cancelled)],
        send: [clientAttributes(server.port, cancelled)]
      })
      // Units: 300 ms of stall are >= 300 in ms and >= 0.3 in s.
      expect(durationOf(exported, SmtpInstruments.clientSendDuration)).toBeGreaterThanOrEqual(299)
      expect(durationOf(exported, SmtpInstruments.clientConnectionDuration)).toBeGreaterThanOrEqual(0.299)
      expect(yield* server.commands).not.toContain("QUIT")
    }))

  it.live("interrupted while waiting for the greeting: client connect carries error.type cancelled", () =>
    Effect.gen(function*() {
      const server = yield* rawServer({ faults: { greeting: MisbehavingServer.stall } })
      const { exported } = yield* scenario(
        "interrupted connect",
        plaintext(server.port),
        // Past the TCP connect (which must record "succeeded"), into the wait for the greeting.
        interruptedAt(server, "greeting", "100 millis")
      )
      expectRecords(exported, {
        socket: [socketAttributes(server.port, "succeeded")],
        connect: [clientAttributes(server.port, { "error.type": "cancelled" })],
        connection: [],
        send: []
      })
    }))

  it.live("TLS failure: a server certificate the client does not trust (STARTTLS): client connect fails with error.type TlsError, no status code, no socket.error", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer()
      const { exit, exported } = yield* scenario(
        "TLS failure (STARTTLS, untrusted certificate)",
        // No `tls.ca`: the test CA is not among the trusted roots.
        { host: loopback, port: server.port, security: "starttls" },
        SmtpClient.send(mail)
      )
      const error = failureOf(exit)
      expect(error).toBeInstanceOf(SmtpError.TlsError)
      expectRecords(exported, {
        socket: [socketAttributes(server.port, "succeeded")],
        // A TLS library code is no socket.error, whatever it looks like.
        connect: [clientAttributes(server.port, { "error.type": "TlsError" })],
        connection: [],
        send: []
      })
    }))

  it.live("TLS failure: implicit TLS against a plaintext server: the handshake fails, client connect carries TlsError and no peer (no transport was established)", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const { exit, exported } = yield* scenario(
        "TLS failure (implicit TLS, plaintext peer)",
        { host: loopback, port: server.port, security: "tls", tls: trusted(), timeout: "5 seconds" },
        SmtpClient.send(mail)
      )
      const error = failureOf(exit)
      expect(error).toBeInstanceOf(SmtpError.TlsError)
      expectRecords(exported, {
        socket: [socketAttributes(server.port, "succeeded")],
        connect: [{
          "server.address": loopback,
          "server.port": server.port,
          "url.scheme": "smtps",
          "error.type": "TlsError"
        }],
        connection: [],
        send: []
      })
    }))

  it.live("drop after the greeting: the server closes at EHLO: client connect fails with SocketError, no socket.error (no OS error), no connection", () =>
    Effect.gen(function*() {
      const server = yield* rawServer({ faults: { ehlo: MisbehavingServer.close } })
      const { exit, exported } = yield* scenario(
        "drop after the greeting",
        plaintext(server.port),
        SmtpClient.send(mail)
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expectRecords(exported, {
        socket: [socketAttributes(server.port, "succeeded")],
        connect: [clientAttributes(server.port, { "error.type": "SocketError" })],
        // The session never became ready: no connection to end.
        connection: [],
        send: []
      })
    }))

  // Runs last (tests in a file run in order): the scenarios above produced each
  // of the seven instruments both succeeding and failing.
  it("every instrument was exported with and without error.type by the scenarios above", () => {
    seen.expectCovered(SmtpInstruments.all.map((instrument) => instrument.name))
  })
})

// ---------------------------------------------------------------------------
// Spans as @effect/opentelemetry exports them
// ---------------------------------------------------------------------------

describe("spans exported through @effect/opentelemetry", () => {
  const exportedSpans = (exporter: InMemorySpanExporter) =>
    exporter.getFinishedSpans().map((span: ReadableSpan) => ({
      name: span.name,
      kind: span.kind,
      attributes: span.attributes,
      status: span.status,
      events: span.events.map((e) => ({ name: e.name, attributes: e.attributes }))
    }))

  it.live("a refused AUTH and refused recipients: error.type and an error status, and no password or recipient anywhere", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer()
      const exporter = new InMemorySpanExporter()
      const processor = new SimpleSpanProcessor(exporter)
      const tracing = NodeSdk.layer(() => ({ resource: { serviceName: "conformance" }, spanProcessor: processor }))
      const rejected = ["reject-secret-1@example.com", "reject-secret-2@example.com"]
      const wrong = "a-wrong-password-3d9f"
      const run = (options: SmtpClient.Options, to: ReadonlyArray<string>) =>
        Effect.exit(
          SmtpClient.send({ ...mail, to }).pipe(
            Effect.provide(NodeSmtp.layerWithMetrics(options)),
            Effect.provide(SmtpMetrics.layerNoop)
          )
        )
      const base = { host: loopback, port: server.port, security: "starttls" as const, tls: trusted() }
      // Read before the provider shuts down: shutting the exporter down empties it.
      const spans = yield* Effect.scoped(
        Layer.build(tracing).pipe(
          Effect.flatMap((context) =>
            Effect.all([
              run({ ...base, auth: alice(wrong) }, ["rcpt@example.com"]),
              run({ ...base, auth: alice(password) }, rejected)
            ]).pipe(Effect.provide(context))
          ),
          Effect.andThen(Effect.promise(() => processor.forceFlush())),
          Effect.map(() => exportedSpans(exporter))
        )
      )
      expect(spans.map((s) => s.name)).toStrictEqual([
        "smtp.connect",
        "smtp.authenticate",
        "smtp.connect",
        "smtp.authenticate",
        "smtp.send"
      ])
      for (const span of spans) expect(span.kind, span.name).toBe(OtelApi.SpanKind.CLIENT)
      const [, authFailed, , authOk, send] = spans
      expect(authFailed!.attributes["error.type"]).toBe("AuthenticationError")
      expect(authFailed!.status.code).toBe(OtelApi.SpanStatusCode.ERROR)
      expect(authOk!.attributes["error.type"]).toBeUndefined()
      expect(send!.attributes["error.type"]).toBe("SmtpCommandError")
      expect(send!.status.code).toBe(OtelApi.SpanStatusCode.ERROR)
      expect(send!.attributes["network.peer.address"]).toBe(loopback)
      // The exception event names the error type and carries no message text beyond it.
      const exception = send!.events.find((e) => e.name === "exception")
      expect(exception?.attributes?.["exception.type"]).toBe("SmtpCommandError")
      expect(exception?.attributes?.["exception.message"]).toBe("SmtpCommandError")
      const text = JSON.stringify(spans)
      for (const secret of [wrong, password, ...rejected]) expect(text).not.toContain(secret)
    }))
})
