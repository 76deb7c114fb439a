import { fc, prop } from "@effect-smtp/test-utils/property"
import { expectWellFormedAttributes } from "@effect-smtp/test-utils/telemetryEvents"
import { describe, expect, it } from "@effect/vitest"
import * as SmtpError from "../src/SmtpError.js"
import type { Outcome } from "../src/SmtpMetrics.js"
import * as SmtpTelemetry from "../src/SmtpTelemetry.js"
import {
  clientFacts,
  host,
  ip,
  outcome,
  port,
  protocolError,
  socketErrors,
  specSocketError,
  specValue,
  timeoutError,
  tlsError
} from "./utils/telemetry.js"

// --- an independent model of the presence rules -----------------------------

const expectedStatusCode = (o: Outcome): number | undefined => {
  if (o._tag !== "Failure") return undefined
  const e = o.error
  if (e._tag === "SmtpCommandError") return e.statusCode
  if (e._tag === "AuthenticationError") return e.statusCode
  return undefined
}

/** The socket layer's failure: the error itself, or the one behind a DeliveryUnknownError. */
const transportOf = (e: SmtpError.SmtpError) => e._tag === "DeliveryUnknownError" ? e.cause : e

const expectedSocketError = (o: Outcome): number | undefined => {
  if (o._tag !== "Failure") return undefined
  const e = transportOf(o.error)
  return (e._tag === "SocketError" || e._tag === "ProxyError") && e.code !== undefined
    ? specSocketError(e.code)
    : undefined
}

describe("SmtpTelemetry.outcomeAttributes", () => {
  prop(
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

  prop(
    "smtp.status_code is present iff the error carries a server reply code, and equals it",
    [outcome],
    ([o]) => {
      const attributes = SmtpTelemetry.outcomeAttributes(o)
      const expected = expectedStatusCode(o)
      expect("smtp.status_code" in attributes).toBe(expected !== undefined)
      expect(attributes["smtp.status_code"]).toBe(expected)
    }
  )

  prop(
    "socket.error is present iff the error is a SocketError with an OS code, and equals the socket-errors.md value",
    [outcome],
    ([o]) => {
      const attributes = SmtpTelemetry.outcomeAttributes(o)
      const expected = expectedSocketError(o)
      expect("socket.error" in attributes).toBe(expected !== undefined)
      expect(attributes["socket.error"]).toBe(expected)
    }
  )

  prop(
    "only error keys appear, none undefined or empty, ints are integers",
    [outcome],
    ([o]) => {
      const attributes = SmtpTelemetry.outcomeAttributes(o)
      for (const key of Object.keys(attributes)) {
        expect(["error.type", "smtp.status_code", "socket.error"]).toContain(key)
      }
      expectWellFormedAttributes(attributes)
    }
  )

  prop(
    "a TlsError, TimeoutError, SmtpProtocolError or interruption never carries socket.error",
    [fc.oneof(tlsError, timeoutError, protocolError)],
    ([error]) => {
      expect("socket.error" in SmtpTelemetry.outcomeAttributes({ _tag: "Failure", error })).toBe(false)
      expect("socket.error" in SmtpTelemetry.outcomeAttributes({ _tag: "Interrupted" })).toBe(false)
    }
  )

  prop(
    "a SocketError with an unknown OS code maps to -1",
    [fc.stringMatching(/^[A-Z_]{1,16}$/).filter((code) => !specValue.has(code))],
    ([code]) => {
      const error = new SmtpError.SocketError({ operation: "connect", host: "h", port: 25, code })
      expect(SmtpTelemetry.outcomeAttributes({ _tag: "Failure", error })["socket.error"]).toBe(-1)
    }
  )
})

describe("SmtpTelemetry.socketConnectAttributes", () => {
  prop(
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
      expectWellFormedAttributes(attributes)
    }
  )
})

describe("SmtpTelemetry.clientAttributes", () => {
  prop(
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
      expectWellFormedAttributes(attributes)
    }
  )

  prop(
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
