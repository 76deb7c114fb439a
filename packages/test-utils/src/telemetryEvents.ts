/**
 * The telemetry events the metrics tests of the client (Effect Metric) and
 * of @effect-smtp/opentelemetry (the OTel SDK) record, and the typing rules
 * their attributes follow. The events: one of each outcome
 * the instruments tell apart (success, a socket error by code, a command
 * refused, TLS, a timeout, an interruption, AUTH refused), each with its own
 * attributes, so every event is its own series.
 */
import * as SmtpError from "@effect-smtp/client/SmtpError"
import type {
  ClientConnectEvent,
  ConnectionEndEvent,
  MessageSendEvent,
  Outcome,
  SocketConnectEvent
} from "@effect-smtp/client/SmtpMetrics"
import { expect } from "@effect/vitest"
import * as Duration from "effect/Duration"

export const failure = (error: SmtpError.SmtpError): Outcome => ({ _tag: "Failure", error })

export interface TelemetryEvents {
  readonly socket: ReadonlyArray<SocketConnectEvent>
  readonly connect: ReadonlyArray<ClientConnectEvent>
  readonly connection: ReadonlyArray<ConnectionEndEvent>
  readonly send: ReadonlyArray<MessageSendEvent>
}

/** Events to `host`, port 587 (one send over smtps to 465). `send[1]` is the RCPT TO refused with 550. */
export const telemetryEvents = (host: string): TelemetryEvents => {
  const facts = { serverAddress: host, serverPort: 587, scheme: "smtp" as const }
  return {
    socket: [
      { ...facts, peerAddress: "192.0.2.1", outcome: { _tag: "Success" }, durationMs: 12.5 },
      {
        ...facts,
        peerAddress: "192.0.2.2",
        outcome: failure(new SmtpError.SocketError({ operation: "connect", host, port: 587, code: "ECONNREFUSED" })),
        durationMs: 3
      },
      { ...facts, peerAddress: "2001:db8::1", outcome: { _tag: "Interrupted" }, durationMs: 1 }
    ],
    connect: [
      { ...facts, peerAddress: "192.0.2.1", outcome: { _tag: "Success" }, durationMs: 80 },
      {
        ...facts,
        outcome: failure(new SmtpError.SocketError({ operation: "lookup", host, port: 587, code: "ENOTFOUND" })),
        durationMs: 4
      },
      {
        ...facts,
        peerAddress: "192.0.2.1",
        outcome: failure(
          new SmtpError.SmtpCommandError({ command: "EHLO", statusCode: 554, serverMessage: "go away" })
        ),
        durationMs: 30
      },
      {
        ...facts,
        peerAddress: "192.0.2.1",
        outcome: failure(
          new SmtpError.TlsError({ reason: "CertificateRejected", host, port: 587, code: "ECONNRESET" })
        ),
        durationMs: 31
      }
    ],
    connection: [
      { ...facts, peerAddress: "192.0.2.1", outcome: { _tag: "Success" }, durationSeconds: 42 },
      {
        ...facts,
        peerAddress: "192.0.2.1",
        outcome: failure(new SmtpError.SocketError({ operation: "read", host, port: 587, code: "ECONNRESET" })),
        durationSeconds: 0.75
      },
      {
        ...facts,
        peerAddress: "192.0.2.1",
        outcome: failure(new SmtpError.SmtpCommandError({ command: "NOOP", statusCode: 421, serverMessage: "bye" })),
        durationSeconds: 7200
      }
    ],
    send: [
      {
        ...facts,
        scheme: "smtps",
        serverPort: 465,
        peerAddress: "192.0.2.1",
        outcome: { _tag: "Success" },
        durationMs: 250
      },
      {
        ...facts,
        peerAddress: "192.0.2.1",
        outcome: failure(
          new SmtpError.SmtpCommandError({ command: "RCPT TO", statusCode: 550, serverMessage: "no such user" })
        ),
        durationMs: 20
      },
      {
        ...facts,
        peerAddress: "192.0.2.1",
        outcome: failure(new SmtpError.TimeoutError({ operation: "DATA", timeout: Duration.seconds(10) })),
        durationMs: 10_000
      },
      { ...facts, peerAddress: "192.0.2.1", outcome: { _tag: "Interrupted" }, durationMs: 5 },
      {
        ...facts,
        peerAddress: "192.0.2.1",
        outcome: failure(
          new SmtpError.AuthenticationError({ reason: "Rejected", mechanism: "PLAIN", statusCode: 535 })
        ),
        durationMs: 6
      }
    ]
  }
}

/** The attributes both profiles carry as ints; every other one is a string. */
const intKeys = new Set(["server.port", "smtp.status_code", "socket.error"])

/**
 * The typing rules of the telemetry notes on one set of attributes (as
 * computed, or as an exporter got them): present values only, ints as
 * integers, every other value a non-empty string.
 */
export const expectWellFormedAttributes = (attributes: Readonly<Record<string, unknown>>) => {
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
