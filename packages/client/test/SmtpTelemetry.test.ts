import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as fc from "effect/FastCheck"
import * as SmtpError from "../src/SmtpError.js"
import type { Outcome } from "../src/SmtpMetrics.js"
import * as SmtpTelemetry from "../src/SmtpTelemetry.js"

// shared/spec/socket-errors.md, copied row by row rather than imported, so the
// test checks the implementation's table against the spec's.
const socketErrors: ReadonlyArray<readonly [code: string, name: string, value: number]> = [
  ["ECONNREFUSED", "ConnectionRefused", 10061],
  ["ECONNRESET", "ConnectionReset", 10054],
  ["ETIMEDOUT", "TimedOut", 10060],
  ["EHOSTUNREACH", "HostUnreachable", 10065],
  ["EHOSTDOWN", "HostDown", 10064],
  ["ENETUNREACH", "NetworkUnreachable", 10051],
  ["ENETDOWN", "NetworkDown", 10050],
  ["ENETRESET", "NetworkReset", 10052],
  ["ECONNABORTED", "ConnectionAborted", 10053],
  ["EADDRINUSE", "AddressAlreadyInUse", 10048],
  ["EADDRNOTAVAIL", "AddressNotAvailable", 10049],
  ["EAFNOSUPPORT", "AddressFamilyNotSupported", 10047],
  ["EPROTONOSUPPORT", "ProtocolNotSupported", 10043],
  ["ENOTCONN", "NotConnected", 10057],
  ["EISCONN", "IsConnected", 10056],
  ["EPIPE", "Shutdown", 10058],
  ["ESHUTDOWN", "Shutdown", 10058],
  ["EACCES", "AccessDenied", 10013],
  ["EPERM", "AccessDenied", 10013],
  ["EINVAL", "InvalidArgument", 10022],
  ["EMFILE", "TooManyOpenSockets", 10024],
  ["ENFILE", "TooManyOpenSockets", 10024],
  ["EAGAIN", "WouldBlock", 10035],
  ["EWOULDBLOCK", "WouldBlock", 10035],
  ["EINPROGRESS", "InProgress", 10036],
  ["EALREADY", "AlreadyInProgress", 10037],
  ["EMSGSIZE", "MessageSize", 10040],
  ["ENOBUFS", "NoBufferSpaceAvailable", 10055],
  ["EINTR", "Interrupted", 10004],
  ["ECANCELED", "OperationAborted", 995],
  ["ENOTFOUND", "HostNotFound", 11001],
  ["EAI_NONAME", "HostNotFound", 11001],
  ["EAI_AGAIN", "TryAgain", 11002],
  ["EAI_FAIL", "NoRecovery", 11003],
  ["ENODATA", "NoData", 11004],
  ["EAI_NODATA", "NoData", 11004]
]
const specValue = new Map(socketErrors.map(([code, , value]) => [code, value]))
const specSocketError = (code: string): number => specValue.get(code) ?? -1

// --- arbitraries: every error class, with arbitrary fields -------------------

const text = fc.string({ maxLength: 40 })
const optional = <A>(arb: fc.Arbitrary<A>): fc.Arbitrary<A | undefined> => fc.option(arb, { nil: undefined })
const host = fc.domain()
const port = fc.integer({ min: 1, max: 65_535 })
const ip = fc.oneof(fc.ipV4(), fc.ipV6())
const replyCode = fc.integer({ min: 200, max: 599 })
// Known codes, codes the table does not know (the "-1" row), and odd strings.
const osCode = fc.oneof(
  fc.constantFrom(...socketErrors.map(([code]) => code)),
  fc.constantFrom("EPROTO", "ERR_SOCKET_CLOSED", "EUNKNOWN", "ESOMETHING"),
  fc.stringMatching(/^E[A-Z_]{1,12}$/)
)

const socketError = fc.record({
  operation: fc.constantFrom<SmtpError.SocketOperation>("lookup", "connect", "read", "write", "closed"),
  host,
  port,
  address: optional(ip),
  code: optional(osCode)
}).map((fields) => new SmtpError.SocketError(fields))

const proxyError = fc.record({
  reason: fc.constantFrom<SmtpError.ProxyFailure>(
    "Unreachable",
    "AuthenticationFailed",
    "Refused",
    "TargetUnreachable",
    "HandshakeFailed",
    "Timeout"
  ),
  protocol: fc.constantFrom<SmtpError.ProxyError["protocol"]>("socks5", "socks5h", "http"),
  proxy: fc.tuple(host, port).map(([h, p]) => `${h}:${p}`),
  host,
  port,
  code: optional(osCode),
  // A SOCKS5 reply byte or an HTTP status: never smtp.status_code.
  reply: optional(fc.oneof(fc.integer({ min: 1, max: 8 }), replyCode))
}).map((fields) => new SmtpError.ProxyError(fields))

const tlsError = fc.record({
  reason: fc.constantFrom<SmtpError.TlsFailure>("HandshakeFailed", "CertificateRejected", "StartTlsUnavailable"),
  host,
  port,
  // TLS library codes, some shaped like OS codes: still never socket.error.
  code: optional(fc.oneof(fc.constantFrom("DEPTH_ZERO_SELF_SIGNED_CERT", "ECONNRESET"), text))
}).map((fields) => new SmtpError.TlsError(fields))

const commandError = fc.record({
  command: fc.constantFrom("MAIL FROM", "RCPT TO", "DATA", "BDAT", "EHLO", "STARTTLS", "QUIT"),
  statusCode: replyCode,
  enhancedStatusCode: optional(fc.constantFrom("5.1.1", "4.2.0", "5.7.1")),
  serverMessage: text,
  recipient: optional(fc.emailAddress())
}).map((fields) => new SmtpError.SmtpCommandError(fields))

const protocolError = fc.record({
  reason: fc.constantFrom<SmtpError.SmtpProtocolError["reason"]>(
    "MalformedReply",
    "ReplyTooLong",
    "UnexpectedReply",
    "StartTlsInjection"
  ),
  detail: text
}).map((fields) => new SmtpError.SmtpProtocolError(fields))

const authenticationError = fc.record({
  reason: fc.constantFrom<SmtpError.AuthenticationError["reason"]>("Rejected", "NoCommonMechanism", "NotOffered"),
  mechanism: optional(fc.constantFrom("PLAIN", "LOGIN", "XOAUTH2")),
  statusCode: optional(replyCode),
  serverMessage: optional(text)
}).map((fields) => new SmtpError.AuthenticationError(fields))

const timeoutError = fc.record({
  operation: fc.constantFrom("connect", "greeting", "EHLO", "DATA"),
  timeout: fc.integer({ min: 0, max: 600_000 }).map(Duration.millis)
}).map((fields) => new SmtpError.TimeoutError(fields))

const invalidInputError = fc.record({ field: fc.constantFrom("from", "to", "ehloName"), reason: text })
  .map((fields) => new SmtpError.InvalidInputError(fields))

const anyError: fc.Arbitrary<SmtpError.SmtpError> = fc.oneof(
  socketError,
  proxyError,
  tlsError,
  commandError,
  protocolError,
  authenticationError,
  timeoutError,
  invalidInputError
)

const outcome: fc.Arbitrary<Outcome> = fc.oneof(
  fc.constant<Outcome>({ _tag: "Success" }),
  fc.constant<Outcome>({ _tag: "Interrupted" }),
  anyError.map((error): Outcome => ({ _tag: "Failure", error })),
  // Weight failures up: they carry the interesting rules.
  anyError.map((error): Outcome => ({ _tag: "Failure", error }))
)

const clientFacts = fc.record({
  serverAddress: host,
  serverPort: port,
  peerAddress: fc.oneof(ip, fc.constant(undefined), fc.constant("")),
  scheme: fc.constantFrom<"smtp" | "smtps">("smtp", "smtps")
})

// --- an independent model of the presence rules -----------------------------

const expectedStatusCode = (o: Outcome): number | undefined => {
  if (o._tag !== "Failure") return undefined
  const e = o.error
  if (e._tag === "SmtpCommandError") return e.statusCode
  if (e._tag === "AuthenticationError") return e.statusCode
  return undefined
}

const expectedSocketError = (o: Outcome): number | undefined =>
  o._tag === "Failure" && (o.error._tag === "SocketError" || o.error._tag === "ProxyError") &&
    o.error.code !== undefined
    ? specSocketError(o.error.code)
    : undefined

const intKeys = new Set(["server.port", "smtp.status_code", "socket.error"])

const expectWellFormed = (attributes: Readonly<Record<string, unknown>>) => {
  for (const [key, value] of Object.entries(attributes)) {
    expect(value, key).not.toBeUndefined()
    expect(value, key).not.toBeNull()
    if (intKeys.has(key)) {
      expect(typeof value, key).toBe("number")
      expect(Number.isInteger(value), key).toBe(true)
    } else {
      expect(typeof value, key).toBe("string")
      expect(value, key).not.toBe("")
    }
  }
}

describe("SmtpTelemetry.outcomeAttributes", () => {
  it.prop(
    "error.type is the error's _tag on every failure, cancelled on interruption, and absent on success",
    [outcome],
    ([o]) => {
      const attributes = SmtpTelemetry.outcomeAttributes(o)
      switch (o._tag) {
        case "Success":
          expect(attributes).toStrictEqual({})
          break
        case "Interrupted":
          expect(attributes).toStrictEqual({ "error.type": "cancelled" })
          break
        case "Failure":
          expect(attributes["error.type"]).toBe(o.error._tag)
      }
    }
  )

  it.prop(
    "smtp.status_code is present iff the error carries a server reply code, and equals it",
    [outcome],
    ([o]) => {
      const attributes = SmtpTelemetry.outcomeAttributes(o)
      const expected = expectedStatusCode(o)
      expect("smtp.status_code" in attributes).toBe(expected !== undefined)
      expect(attributes["smtp.status_code"]).toBe(expected)
    }
  )

  it.prop(
    "socket.error is present iff the error is a SocketError with an OS code, and equals the socket-errors.md value",
    [outcome],
    ([o]) => {
      const attributes = SmtpTelemetry.outcomeAttributes(o)
      const expected = expectedSocketError(o)
      expect("socket.error" in attributes).toBe(expected !== undefined)
      expect(attributes["socket.error"]).toBe(expected)
    }
  )

  it.prop(
    "only error keys appear, none undefined or empty, ints are integers",
    [outcome],
    ([o]) => {
      const attributes = SmtpTelemetry.outcomeAttributes(o)
      for (const key of Object.keys(attributes)) {
        expect(["error.type", "smtp.status_code", "socket.error"]).toContain(key)
      }
      expectWellFormed(attributes)
    }
  )

  it.prop(
    "a TlsError, TimeoutError, SmtpProtocolError or interruption never carries socket.error",
    [fc.oneof(tlsError, timeoutError, protocolError)],
    ([error]) => {
      expect("socket.error" in SmtpTelemetry.outcomeAttributes({ _tag: "Failure", error })).toBe(false)
      expect("socket.error" in SmtpTelemetry.outcomeAttributes({ _tag: "Interrupted" })).toBe(false)
    }
  )

  it.prop(
    "a SocketError with an unknown OS code maps to -1",
    [fc.stringMatching(/^[A-Z_]{1,16}$/).filter((code) => !specValue.has(code))],
    ([code]) => {
      const error = new SmtpError.SocketError({ operation: "connect", host: "h", port: 25, code })
      expect(SmtpTelemetry.outcomeAttributes({ _tag: "Failure", error })["socket.error"]).toBe(-1)
    }
  )
})

describe("SmtpTelemetry.socketConnectAttributes", () => {
  it.prop(
    "has exactly the socket table's keys for the outcome: result, peer, host, port always; error.type and socket.error per rule; never smtp.status_code",
    [fc.record({ serverAddress: host, serverPort: port, peerAddress: ip }), outcome],
    ([facts, o]) => {
      const attributes = SmtpTelemetry.socketConnectAttributes({ ...facts, outcome: o })
      const expectedKeys = [
        "socket.connect.result",
        "network.peer.address",
        "server.address",
        "server.port",
        ...(o._tag === "Success" ? [] : ["error.type"]),
        ...(expectedSocketError(o) !== undefined ? ["socket.error"] : [])
      ]
      expect(Object.keys(attributes).sort()).toStrictEqual(expectedKeys.sort())
      expect(attributes["socket.connect.result"]).toBe(
        o._tag === "Success" ? "succeeded" : o._tag === "Failure" ? "failed" : "cancelled"
      )
      expect(attributes["network.peer.address"]).toBe(facts.peerAddress)
      expect(attributes["server.address"]).toBe(facts.serverAddress)
      expect(attributes["server.port"]).toBe(facts.serverPort)
      expectWellFormed(attributes)
    }
  )
})

describe("SmtpTelemetry.clientAttributes", () => {
  it.prop(
    "has exactly the client table's keys: peer iff available, host, port, scheme always, error keys per rule",
    [clientFacts, outcome],
    ([facts, o]) => {
      const attributes = SmtpTelemetry.clientAttributes({ ...facts, outcome: o })
      const hasPeer = facts.peerAddress !== undefined && facts.peerAddress !== ""
      const expectedKeys = [
        ...(hasPeer ? ["network.peer.address"] : []),
        "server.address",
        "server.port",
        "url.scheme",
        ...(o._tag === "Success" ? [] : ["error.type"]),
        ...(expectedStatusCode(o) !== undefined ? ["smtp.status_code"] : []),
        ...(expectedSocketError(o) !== undefined ? ["socket.error"] : [])
      ]
      expect(Object.keys(attributes).sort()).toStrictEqual(expectedKeys.sort())
      expect(attributes["url.scheme"]).toBe(facts.scheme)
      expect(attributes["server.port"]).toBe(facts.serverPort)
      if (hasPeer) expect(attributes["network.peer.address"]).toBe(facts.peerAddress)
      expectWellFormed(attributes)
    }
  )

  it.prop(
    "the error attributes of the client set are exactly outcomeAttributes",
    [clientFacts, outcome],
    ([facts, o]) => {
      const attributes = SmtpTelemetry.clientAttributes({ ...facts, outcome: o })
      const { "error.type": type, "smtp.status_code": status, "socket.error": socket } = attributes
      const errors = {
        ...(type !== undefined ? { "error.type": type } : {}),
        ...(status !== undefined ? { "smtp.status_code": status } : {}),
        ...(socket !== undefined ? { "socket.error": socket } : {})
      }
      expect(errors).toStrictEqual(SmtpTelemetry.outcomeAttributes(o))
    }
  )
})

describe("socket-errors.md mapping", () => {
  it.each(socketErrors)("%s maps to %s (%d)", (code, _name, value) => {
    const error = new SmtpError.SocketError({ operation: "connect", host: "mail.example", port: 587, code })
    expect(error.socketError).toBe(value)
    expect(SmtpTelemetry.outcomeAttributes({ _tag: "Failure", error })).toStrictEqual({
      "error.type": "SocketError",
      "socket.error": value
    })
  })

  it("any other code maps to -1 (SocketError unspecified)", () => {
    const error = new SmtpError.SocketError({ operation: "read", host: "mail.example", port: 25, code: "EPROTO" })
    expect(SmtpTelemetry.outcomeAttributes({ _tag: "Failure", error })["socket.error"]).toBe(-1)
  })

  it("a SocketError without a code (peer closed) carries no socket.error", () => {
    const error = new SmtpError.SocketError({ operation: "closed", host: "mail.example", port: 25 })
    expect(SmtpTelemetry.outcomeAttributes({ _tag: "Failure", error })).toStrictEqual({ "error.type": "SocketError" })
  })
})
