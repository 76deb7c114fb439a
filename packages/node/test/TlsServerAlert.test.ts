/**
 * A server that aborts the TLS handshake with a fatal alert of its own: the
 * TlsError must say whose side failed. An internal-error alert (80) is the
 * server's TLS setup (OpenSMTPD 6.8 with OpenSSL 3 sends it for every key,
 * see test/interop/opensmtpd.test.ts); a handshake-failure alert (40) still
 * reads as a mismatch to check on the client's side.
 */
import { SmtpClient, SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import { TlsError } from "@effect-smtp/client/SmtpError"
import { Socket } from "@effect-smtp/client/Socket"
import { NodeSocket } from "@effect-smtp/node"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Net from "node:net"
import { serve } from "./utils/sockets.js"

/** A TLS record: a fatal alert with `description` (RFC 8446 §6). */
const fatalAlert = (description: number): Buffer => Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description])

const INTERNAL_ERROR = 80
const HANDSHAKE_FAILURE = 40

/**
 * Node's code for a received handshake-failure alert. OpenSSL 3.2 renamed the
 * alerts SSLv3 defined from "sslv3 alert ..." to "ssl/tls alert ...": Node 22
 * (OpenSSL 3.0) says SSLV3, Node 24 (OpenSSL 3.5) SSL/TLS.
 */
const handshakeFailureCode = (() => {
  const [major = 0, minor = 0] = (process.versions.openssl ?? "").split(".").map(Number)
  return major > 3 || (major === 3 && minor >= 2)
    ? "ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE"
    : "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE"
})()

/** Answers the first bytes (the ClientHello) with the alert and closes. */
const answerHelloWithAlert = (socket: Net.Socket, description: number) =>
  socket.once("data", () => socket.end(fatalAlert(description)))

/** Implicit TLS: the alert answers the ClientHello. */
const implicitTlsServer = (description: number) =>
  Net.createServer((socket) => answerHelloWithAlert(socket, description))

/** STARTTLS: a plaintext SMTP dialogue up to 220 for STARTTLS, then the alert. */
const startTlsServer = (description: number) =>
  Net.createServer((socket) => {
    socket.write("220 alert.test ESMTP\r\n")
    let buffered = ""
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString("latin1")
      let end: number
      while ((end = buffered.indexOf("\r\n")) >= 0) {
        const line = buffered.slice(0, end).toUpperCase()
        buffered = buffered.slice(end + 2)
        if (line.startsWith("EHLO")) {
          socket.write("250-alert.test\r\n250 STARTTLS\r\n")
        } else if (line === "STARTTLS") {
          socket.off("data", onData)
          socket.write("220 2.0.0 go ahead\r\n")
          answerHelloWithAlert(socket, description)
          return
        } else {
          socket.write("502 5.5.1 not here\r\n")
        }
      }
    }
    socket.on("data", onData)
  })

const connectTls = (port: number) =>
  Effect.flatMap(Socket, (socket) => socket.connect({ host: "127.0.0.1", port, tls: {} })).pipe(
    Effect.provide(NodeSocket.layer.pipe(Layer.provide(SmtpMetrics.layerNoop)))
  )

const sendOverStartTls = (port: number) =>
  SmtpClient.send({ from: "a@example.com", to: ["b@example.com"], content: "Subject: x\r\n\r\nx\r\n" }).pipe(
    Effect.provide(
      SmtpClient.layer({ host: "127.0.0.1", port, security: "starttls", timeout: "10 seconds" }).pipe(
        Layer.provide(SmtpProtocol.layer),
        Layer.provide(NodeSocket.layer),
        Layer.provide(SmtpMetrics.layerNoop)
      )
    )
  )

const expectTlsError = (error: unknown): TlsError => {
  if (!(error instanceof TlsError)) {
    return expect.unreachable(`expected TlsError, got ${String(error)}`)
  }
  return error
}

const expectServerSide = (error: TlsError) => {
  expect(error.reason).toBe("ServerInternalError")
  expect(error.code).toBe("ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR")
  expect(error.retryable).toBe(false)
  expect(error.message).toContain("internal-error alert")
  expect(error.message).toContain("the port speaks TLS")
  expect(error.message).toContain("server's operator")
  // The advice for a plaintext port would send a person the wrong way here.
  expect(error.message).not.toContain("check that the port speaks TLS")
}

describe("a TLS handshake the server aborts with an alert", () => {
  it.effect("internal error (80) on implicit TLS: TlsError ServerInternalError, pointing at the server's TLS setup", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(implicitTlsServer(INTERNAL_ERROR))
      expectServerSide(expectTlsError(yield* Effect.flip(connectTls(port))))
    }))

  it.effect("internal error (80) after STARTTLS: the send fails with the same TlsError", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(startTlsServer(INTERNAL_ERROR))
      expectServerSide(expectTlsError(yield* Effect.flip(sendOverStartTls(port))))
    }))

  it.effect("handshake failure (40) stays HandshakeFailed: a mismatch to check on the client's side", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(implicitTlsServer(HANDSHAKE_FAILURE))
      const error = expectTlsError(yield* Effect.flip(connectTls(port)))
      expect(error.reason).toBe("HandshakeFailed")
      expect(error.code).toBe(handshakeFailureCode)
      expect(error.message).toContain("check that the port speaks TLS")
    }))
})
