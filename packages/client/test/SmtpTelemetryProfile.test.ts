/**
 * The two profiles as data and as one mapping each: the shipped profile
 * against an independent model of mailkit-shipped.md (its order of
 * precedence for `error.type`, its presence rules, its value types), the
 * documented one against SmtpTelemetry's documented attribute sets.
 */
import { fc, prop } from "@effect-smtp/test-utils/property"
import { describe, expect, it } from "@effect/vitest"
import * as SmtpError from "../src/SmtpError.js"
import * as SmtpInstruments from "../src/SmtpInstruments.js"
import type { Outcome } from "../src/SmtpMetrics.js"
import * as SmtpTelemetry from "../src/SmtpTelemetry.js"
import * as SmtpTelemetryProfile from "../src/SmtpTelemetryProfile.js"
import {
  clientFacts,
  commandError,
  host,
  ip,
  optional,
  outcome,
  port,
  socketErrors,
  text,
  timeoutError
} from "./utils/telemetry.js"

// mailkit-shipped.md's eight names, by the Node codes socket-errors.md puts
// behind each SocketError value (written out here, not derived from the code).
const shippedNames: Readonly<Record<string, string>> = {
  ENOTFOUND: "host_not_found",
  EAI_NONAME: "host_not_found",
  EHOSTUNREACH: "host_unreachable",
  ENETUNREACH: "network_unreachable",
  ECONNABORTED: "connection_aborted",
  ECONNREFUSED: "connection_refused",
  ECONNRESET: "connection_reset",
  ETIMEDOUT: "timed_out",
  EMFILE: "too_many_open_sockets",
  ENFILE: "too_many_open_sockets"
}
const namedCodes = Object.keys(shippedNames)
const clientOnlyNames = new Set(["secure_connection_error", "protocol_error", "command_error"])

const noHandshake = new Set<SmtpError.TlsFailure>([
  "StartTlsUnavailable",
  "RequireTlsWithoutTls",
  "RequireTlsNotOffered"
])

/** An independent model of mailkit-shipped.md's "error.type values", in their order. */
const expectedErrorType = (o: Outcome, instruments: "socket" | "client"): string | undefined => {
  if (o._tag === "Success") return undefined
  // 1. interruption
  if (o._tag === "Interrupted") return "cancelled"
  // MailKit has no DeliveryUnknownError: what it would report is the failure behind it.
  const error = o.error._tag === "DeliveryUnknownError" ? o.error.cause : o.error
  // 2. a socket error, wherever its OS code travels (MailKit walks inner exceptions)
  if (
    (error._tag === "SocketError" || error._tag === "ProxyError" || error._tag === "TlsError") &&
    error.code !== undefined
  ) {
    // An own entry only: an OS code such as "toString" is no name of the table's.
    const name = Object.hasOwn(shippedNames, error.code) ? shippedNames[error.code] : undefined
    if (name !== undefined) return name
  }
  // 3. client instruments only
  if (instruments === "client") {
    // A missing STARTTLS, or a REQUIRETLS the session cannot honour, is no handshake.
    if (error._tag === "TlsError" && !noHandshake.has(error.reason)) return "secure_connection_error"
    if (error._tag === "SmtpProtocolError") return "protocol_error"
    if (error._tag === "SocketError" && error.operation === "closed") return "protocol_error"
    if (error._tag === "SmtpCommandError") {
      return Number.isInteger(error.statusCode) && error.statusCode >= 100 && error.statusCode <= 999
        ? `${error.statusCode}`
        : "command_error"
    }
  }
  // 4. the type name
  return error._tag
}

const failure = (error: SmtpError.SmtpError): Outcome => ({ _tag: "Failure", error })
const operation = fc.constantFrom<SmtpTelemetryProfile.Operation>("connect", "authenticate", "send")
const socketFacts = fc.record({ serverAddress: host, serverPort: port, peerAddress: ip })

/** An attribute set's value types: ints where the spec says int, other values non-empty strings. */
const expectValueTypes = (attributes: SmtpTelemetry.Attributes, intKeys: ReadonlyArray<string>) => {
  for (const [key, value] of Object.entries(attributes)) {
    if (intKeys.includes(key)) {
      expect(Number.isSafeInteger(value), `${key} is an int`).toBe(true)
    } else {
      expect(typeof value, `${key} is a string`).toBe("string")
      expect(value, `${key} is not empty`).not.toBe("")
    }
  }
}

describe("the shipped profile's error.type (mailkit-shipped.md)", () => {
  const { shipped } = SmtpTelemetryProfile

  prop(
    "follows MailKit's order of precedence on every instrument: cancelled, a socket error's name, (client only) secure_connection_error / protocol_error / the status code / command_error, then the type name",
    [outcome, clientFacts, socketFacts, operation],
    ([o, facts, socket, op]) => {
      const client = expectedErrorType(o, "client")
      expect(shipped.attributes({ _tag: "Operation", operation: op, ...facts, outcome: o })["error.type"]).toBe(client)
      expect(shipped.attributes({ _tag: "ConnectionEnd", ...facts, outcome: o })["error.type"]).toBe(client)
      expect(shipped.attributes({ _tag: "SocketConnect", ...socket, outcome: o })["error.type"]).toBe(
        expectedErrorType(o, "socket")
      )
    }
  )

  prop(
    "a failure whose OS code is one of the eight carries that name on every instrument, whatever class carried the code",
    [
      fc.constantFrom(...namedCodes),
      fc.constantFrom("SocketError", "TlsError", "DeliveryUnknownError"),
      fc.constantFrom<SmtpError.SocketOperation>("lookup", "connect", "read", "write", "closed")
    ],
    ([code, carrier, socketOperation]) => {
      const socket = new SmtpError.SocketError({ operation: socketOperation, host: "h", port: 25, code })
      const error = carrier === "SocketError"
        ? socket
        : carrier === "TlsError"
        ? new SmtpError.TlsError({ reason: "HandshakeFailed", host: "h", port: 25, code })
        : new SmtpError.DeliveryUnknownError({ cause: socket, recipients: [] })
      expect(SmtpTelemetry.shippedErrorType(failure(error), "client")).toBe(shippedNames[code])
      expect(SmtpTelemetry.shippedErrorType(failure(error), "socket")).toBe(shippedNames[code])
    }
  )

  prop(
    "interruption is cancelled and success has no error.type, on socket and client instruments alike",
    [fc.constantFrom<"socket" | "client">("socket", "client")],
    ([instruments]) => {
      expect(SmtpTelemetry.shippedErrorType({ _tag: "Interrupted" }, instruments)).toBe("cancelled")
      expect(SmtpTelemetry.shippedErrorType({ _tag: "Success" }, instruments)).toBeUndefined()
    }
  )

  prop(
    "the socket instruments never carry a client instrument's name (no status codes, no protocol or TLS names)",
    [outcome],
    ([o]) => {
      const errorType = SmtpTelemetry.shippedErrorType(o, "socket")
      if (errorType === undefined) return
      expect(clientOnlyNames.has(errorType)).toBe(false)
      expect(errorType).not.toMatch(/^\d+$/)
    }
  )

  prop(
    "a command failure is its status code as a decimal string; one without a usable code is command_error",
    [
      commandError,
      fc.oneof(fc.constant(Number.NaN), fc.constant(2.5), fc.constant(-1), fc.integer({ min: 1_000, max: 99_999 }))
    ],
    ([error, unusable]) => {
      expect(SmtpTelemetry.shippedErrorType(failure(error), "client")).toBe(String(error.statusCode))
      const odd = new SmtpError.SmtpCommandError({ command: "DATA", statusCode: unusable, serverMessage: "?" })
      expect(SmtpTelemetry.shippedErrorType(failure(odd), "client")).toBe("command_error")
    }
  )

  prop(
    "a TlsError is secure_connection_error for a handshake or certificate failure, the type name when STARTTLS was not offered (MailKit: NotSupportedException) or REQUIRETLS cannot be honoured",
    [
      fc.constantFrom<SmtpError.TlsFailure>(
        "HandshakeFailed",
        "CertificateRejected",
        "ServerInternalError",
        "StartTlsUnavailable",
        "RequireTlsWithoutTls",
        "RequireTlsNotOffered"
      ),
      optional(fc.oneof(fc.constantFrom("DEPTH_ZERO_SELF_SIGNED_CERT", "ERR_SSL_WRONG_VERSION_NUMBER"), text))
    ],
    ([reason, code]) => {
      fc.pre(code === undefined || !Object.hasOwn(shippedNames, code))
      const error = new SmtpError.TlsError({ reason, host: "h", port: 465, code })
      expect(SmtpTelemetry.shippedErrorType(failure(error), "client")).toBe(
        noHandshake.has(reason) ? "TlsError" : "secure_connection_error"
      )
      expect(SmtpTelemetry.shippedErrorType(failure(error), "socket")).toBe("TlsError")
    }
  )

  prop(
    "a client timeout (not an OS ETIMEDOUT) falls back to its type name",
    [timeoutError],
    ([error]) => {
      expect(SmtpTelemetry.shippedErrorType(failure(error), "client")).toBe("TimeoutError")
    }
  )
})

describe("the shipped profile's presence rules and value types", () => {
  const { shipped } = SmtpTelemetryProfile
  const never = ["smtp.status_code", "socket.error", "socket.connect.result"]

  prop(
    "operation.*: exactly url.scheme, server.address, server.port (int), network.operation, and error.type iff the operation failed or was interrupted",
    [clientFacts, outcome, operation],
    ([facts, o, op]) => {
      const attributes = shipped.attributes({ _tag: "Operation", operation: op, ...facts, outcome: o })
      expect(Object.keys(attributes).sort()).toStrictEqual(
        [
          "url.scheme",
          "server.address",
          "server.port",
          "network.operation",
          ...(o._tag === "Success" ? [] : ["error.type"])
        ]
          .sort()
      )
      expect(attributes).toMatchObject({
        "url.scheme": facts.scheme,
        "server.address": facts.serverAddress,
        "server.port": facts.serverPort,
        "network.operation": op
      })
      expectValueTypes(attributes, ["server.port"])
    }
  )

  prop(
    "connection.duration: exactly url.scheme, server.address, server.port, and error.type iff it ended involuntarily; no network.operation, no peer",
    [clientFacts, outcome],
    ([facts, o]) => {
      const attributes = shipped.attributes({ _tag: "ConnectionEnd", ...facts, outcome: o })
      expect(Object.keys(attributes).sort()).toStrictEqual(
        ["url.scheme", "server.address", "server.port", ...(o._tag === "Success" ? [] : ["error.type"])].sort()
      )
      expectValueTypes(attributes, ["server.port"])
    }
  )

  prop(
    "socket.connect.*: exactly network.peer.address, server.address, server.port, and error.type iff the attempt failed or was interrupted",
    [socketFacts, outcome],
    ([facts, o]) => {
      const attributes = shipped.attributes({ _tag: "SocketConnect", ...facts, outcome: o })
      expect(Object.keys(attributes).sort()).toStrictEqual(
        ["network.peer.address", "server.address", "server.port", ...(o._tag === "Success" ? [] : ["error.type"])]
          .sort()
      )
      expect(attributes["network.peer.address"]).toBe(facts.peerAddress)
      expectValueTypes(attributes, ["server.port"])
    }
  )

  prop(
    "no smtp.status_code, socket.error or socket.connect.result anywhere, and network.peer.address only on the socket instruments",
    [clientFacts, socketFacts, outcome, operation],
    ([facts, socket, o, op]) => {
      const client = [
        shipped.attributes({ _tag: "Operation", operation: op, ...facts, outcome: o }),
        shipped.attributes({ _tag: "ConnectionEnd", ...facts, outcome: o })
      ]
      for (const attributes of [...client, shipped.attributes({ _tag: "SocketConnect", ...socket, outcome: o })]) {
        for (const key of never) expect(key in attributes, key).toBe(false)
      }
      for (const attributes of client) expect("network.peer.address" in attributes).toBe(false)
    }
  )
})

describe("the documented profile's mapping", () => {
  const { documented } = SmtpTelemetryProfile

  prop(
    "is SmtpTelemetry's documented attribute sets: socket attributes for a connect attempt, client attributes for every operation and connection end",
    [clientFacts, socketFacts, outcome, operation],
    ([facts, socket, o, op]) => {
      expect(documented.attributes({ _tag: "SocketConnect", ...socket, outcome: o })).toStrictEqual(
        SmtpTelemetry.socketConnectAttributes({ ...socket, outcome: o })
      )
      const client = SmtpTelemetry.clientAttributes({ ...facts, outcome: o })
      expect(documented.attributes({ _tag: "Operation", operation: op, ...facts, outcome: o })).toStrictEqual(client)
      expect(documented.attributes({ _tag: "ConnectionEnd", ...facts, outcome: o })).toStrictEqual(client)
    }
  )

  prop(
    "error.type is the error's _tag (or cancelled), never a MailKit shipped name",
    [clientFacts, outcome],
    ([facts, o]) => {
      const errorType =
        documented.attributes({ _tag: "Operation", operation: "send", ...facts, outcome: o })["error.type"]
      expect(errorType).toBe(o._tag === "Success" ? undefined : o._tag === "Interrupted" ? "cancelled" : o.error._tag)
    }
  )
})

describe("the profiles as data", () => {
  // mailkit-shipped.md's table, as the spec writes it.
  const shippedTable = [
    [
      "mailkit.net.socket",
      "mailkit.net.socket.connect.count",
      "counter",
      "{attempt}",
      "The number of times a socket attempted to connect to a remote host."
    ],
    [
      "mailkit.net.socket",
      "mailkit.net.socket.connect.duration",
      "histogram",
      "ms",
      "The number of milliseconds taken for a socket to connect to a remote host."
    ],
    [
      "mailkit.net.smtp",
      "mailkit.net.smtp.client.connection.duration",
      "histogram",
      "s",
      "The duration of successfully established connections to an SMTP server."
    ],
    [
      "mailkit.net.smtp",
      "mailkit.net.smtp.client.operation.count",
      "counter",
      "{operation}",
      "The number of times a client performed an operation on an SMTP server."
    ],
    [
      "mailkit.net.smtp",
      "mailkit.net.smtp.client.operation.duration",
      "histogram",
      "ms",
      "The amount of time it takes for the SMTP server to perform an operation."
    ]
  ]

  it("shipped: the five instruments of mailkit-shipped.md, meters of version 0.1, no bucket advice (the SDK's defaults)", () => {
    const { shipped } = SmtpTelemetryProfile
    expect(shipped.instruments.map((i) => [i.meter, i.name, i.kind, i.unit, i.description])).toStrictEqual(
      shippedTable
    )
    expect(shipped.meterVersion).toBe("0.1")
    for (const instrument of shipped.instruments) {
      if (instrument.kind === "histogram") {
        expect(instrument.advice, instrument.name).toBe(false)
        expect(instrument.boundaries).toStrictEqual([
          0,
          5,
          10,
          25,
          50,
          75,
          100,
          250,
          500,
          750,
          1000,
          2500,
          5000,
          7500,
          10000
        ])
      }
    }
    // Every operation records into operation.*; connection.duration from the transport on.
    for (const op of ["connect", "authenticate", "send"] as const) {
      expect(shipped.operations[op]).toStrictEqual({
        count: SmtpInstruments.operationCount,
        duration: SmtpInstruments.operationDuration
      })
    }
    expect(shipped.connectionClock).toBe("transport")
    expect(shipped.spans).toStrictEqual({
      names: { connect: "Connect", authenticate: "Authenticate", send: "Send" },
      peerAddress: false,
      errorType: false,
      fiberAnnotations: false,
      scope: { name: "MailKit.Net.SmtpClient", version: "0.1" }
    })
  })

  it("documented: the seven instruments with bucket advice, nothing for AUTH, the smtp.* spans on Effect's tracer", () => {
    const { documented } = SmtpTelemetryProfile
    expect(documented.instruments).toStrictEqual(SmtpInstruments.all)
    expect(documented.instruments).toHaveLength(7)
    expect(documented.meterVersion).toBeUndefined()
    for (const instrument of documented.instruments) {
      if (instrument.kind === "histogram") expect(instrument.advice, instrument.name).toBe(true)
    }
    expect(documented.operations.authenticate).toBeUndefined()
    expect(documented.connectionClock).toBe("session")
    expect(documented.spans.names).toStrictEqual({
      connect: "smtp.connect",
      authenticate: "smtp.authenticate",
      send: "smtp.send"
    })
    expect(documented.spans.scope).toBeUndefined()
  })

  it("the shipped socket names cover exactly the eight SocketError values of socket-errors.md", () => {
    const values = new Set(socketErrors.filter(([code]) => code in shippedNames).map(([, name]) => name))
    expect([...values].sort()).toStrictEqual([
      "ConnectionAborted",
      "ConnectionRefused",
      "ConnectionReset",
      "HostNotFound",
      "HostUnreachable",
      "NetworkUnreachable",
      "TimedOut",
      "TooManyOpenSockets"
    ])
  })
})
