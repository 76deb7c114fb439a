import { SmtpProtocolError, SocketError, TimeoutError, TlsError } from "@effect-smtp/client/SmtpError"
import { SmtpMetrics } from "@effect-smtp/client/SmtpMetrics"
import type { SocketConnectEvent } from "@effect-smtp/client/SmtpMetrics"
import { Socket } from "@effect-smtp/client/Socket"
import type { Connection, ConnectOptions } from "@effect-smtp/client/Socket"
import { NodeSocket } from "@effect-smtp/node"
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { eventually, hangingListener, realDelay, serve, untilSleeping } from "./utils/sockets.js"

// ---------------------------------------------------------------------------
// Helpers

/** A `SmtpMetrics` that keeps the socket.connect events for assertions. */
const recorder = () => {
  const events: Array<SocketConnectEvent> = []
  const layer = Layer.succeed(SmtpMetrics, {
    socketConnect: (event) => Effect.sync(() => void events.push(event)),
    clientConnect: () => Effect.void,
    connectionEnd: () => Effect.void,
    messageSend: () => Effect.void
  })
  return { events, layer }
}

/** Connects with a fresh NodeSocket; returns the connection and the metric events. */
const connectWith = (
  options: ConnectOptions,
  socketOptions: NodeSocket.NodeSocketOptions = {}
) => {
  const metrics = recorder()
  const socketLayer = NodeSocket.layerWith(socketOptions).pipe(Layer.provide(metrics.layer))
  return {
    events: metrics.events,
    connect: Effect.flatMap(Socket, (socket) => socket.connect(options)).pipe(Effect.provide(socketLayer))
  }
}

/** A loopback port nothing listens on. */
const refusedPort = Effect.callback<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const connectionCount = (server: Net.Server) =>
  Effect.callback<number>((resume) => {
    server.getConnections((error, count) => resume(error ? Effect.die(error) : Effect.succeed(count)))
  })

const socketClosed = (socket: Net.Socket) =>
  Effect.callback<void>((resume) => {
    if (socket.destroyed) return resume(Effect.void)
    socket.once("close", () => resume(Effect.void))
  })

const encoder = new TextEncoder()
const bytes = (text: string): Uint8Array => encoder.encode(text)

/** Reads chunks until the text read so far ends with `suffix`. */
const readUntil = (connection: Connection, suffix: string) =>
  Effect.gen(function*() {
    const decoder = new TextDecoder()
    let text = ""
    while (!text.endsWith(suffix)) {
      text += decoder.decode(yield* connection.read, { stream: true })
    }
    return text
  })

const echoServer = () =>
  Net.createServer((socket) => {
    socket.on("data", (chunk) => socket.write(chunk))
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  const [reason] = Exit.isFailure(exit) ? exit.cause.reasons : []
  if (Exit.isFailure(exit) && exit.cause.reasons.length === 1 && reason !== undefined && Cause.isFailReason(reason)) {
    return reason.error
  }
  throw new Error(`expected a failure, got ${String(exit)}`)
}

/** The first socket a test server accepted. */
const firstSocket = (sockets: ReadonlyArray<Net.Socket>) =>
  Effect.flatMap(
    eventually(() => sockets.length > 0, "a connection"),
    () => sockets[0] !== undefined ? Effect.succeed(sockets[0]) : Effect.die(new Error("no connection"))
  )

// ---------------------------------------------------------------------------

describe("NodeSocket", () => {
  describe("TCP", () => {
    it.effect("connects, writes and reads an echo; remoteAddress is the IP", () =>
      Effect.gen(function*() {
        const { port } = yield* serve(echoServer())
        const { connect, events } = connectWith({ host: "127.0.0.1", port })
        const connection = yield* connect
        expect(connection.remoteAddress).toBe("127.0.0.1")
        expect(connection.remotePort).toBe(port)
        expect(connection.host).toBe("127.0.0.1")
        expect(yield* connection.isTls).toBe(false)
        yield* connection.write(bytes("EHLO client\r\n"))
        expect(yield* readUntil(connection, "\r\n")).toBe("EHLO client\r\n")
        expect(events).toHaveLength(1)
        expect(events[0]).toMatchObject({
          serverAddress: "127.0.0.1",
          serverPort: port,
          peerAddress: "127.0.0.1",
          outcome: { _tag: "Success" }
        })
      }))

    it.effect("many small pipelined writes all arrive, in order", () =>
      Effect.gen(function*() {
        const { port } = yield* serve(echoServer())
        const { connect } = connectWith({ host: "127.0.0.1", port })
        const connection = yield* connect
        const lines = Array.from({ length: 10_000 }, (_, i) => `RCPT TO:<user${i}@example.com>\r\n`)
        for (const line of lines) yield* connection.write(bytes(line))
        expect(yield* readUntil(connection, lines[lines.length - 1] ?? "")).toBe(lines.join(""))
      }))

    it.effect("a closed port fails with SocketError ECONNREFUSED (10061), recorded once as a failure", () =>
      Effect.gen(function*() {
        const port = yield* refusedPort
        const { connect, events } = connectWith({ host: "127.0.0.1", port })
        const error = failureOf(yield* Effect.exit(connect))
        expect(error).toBeInstanceOf(SocketError)
        expect(error).toMatchObject({
          _tag: "SocketError",
          operation: "connect",
          host: "127.0.0.1",
          port,
          address: "127.0.0.1",
          code: "ECONNREFUSED"
        })
        expect(error instanceof SocketError && error.socketError).toBe(10061)
        expect(events).toHaveLength(1)
        expect(events[0]).toMatchObject({ peerAddress: "127.0.0.1", outcome: { _tag: "Failure", error } })
      }))

    it.effect("tries each resolved address in order: a refusing one, then the listening one", () =>
      Effect.gen(function*() {
        const { port } = yield* serve(echoServer())
        // 127.0.0.2 is loopback too (Linux routes all of 127/8 to lo), but
        // the server listens on 127.0.0.1 only, so it refuses there.
        const lookup = (host: string) =>
          host === "mail.test"
            ? Effect.succeed([
              { address: "127.0.0.2", family: 4 as const },
              { address: "127.0.0.1", family: 4 as const }
            ])
            : Effect.die(`unexpected lookup of ${host}`)
        const { connect, events } = connectWith({ host: "mail.test", port }, { lookup })
        const connection = yield* connect
        expect(connection.remoteAddress).toBe("127.0.0.1")
        expect(connection.host).toBe("mail.test")
        expect(events).toHaveLength(2)
        expect(events[0]).toMatchObject({
          serverAddress: "mail.test",
          serverPort: port,
          peerAddress: "127.0.0.2",
          outcome: { _tag: "Failure", error: { _tag: "SocketError", code: "ECONNREFUSED", address: "127.0.0.2" } }
        })
        expect(events[1]).toMatchObject({
          serverAddress: "mail.test",
          peerAddress: "127.0.0.1",
          outcome: { _tag: "Success" }
        })
        yield* connection.write(bytes("NOOP\r\n"))
        expect(yield* readUntil(connection, "\r\n")).toBe("NOOP\r\n")
      }))

    it.effect("when every address fails, fails with the last error", () =>
      Effect.gen(function*() {
        const port = yield* refusedPort
        const lookup = () =>
          Effect.succeed([{ address: "127.0.0.2", family: 4 as const }, { address: "127.0.0.3", family: 4 as const }])
        const { connect, events } = connectWith({ host: "mail.test", port }, { lookup })
        const error = failureOf(yield* Effect.exit(connect))
        expect(error).toMatchObject({ _tag: "SocketError", operation: "connect", address: "127.0.0.3" })
        expect(events.map((event) => [event.peerAddress, event.outcome._tag])).toEqual([
          ["127.0.0.2", "Failure"],
          ["127.0.0.3", "Failure"]
        ])
      }))

    it.effect("a failing lookup is a SocketError 'lookup' and no connect attempt", () =>
      Effect.gen(function*() {
        // `.invalid` never resolves (RFC 2606); without any DNS server the
        // resolver may answer EAI_AGAIN instead of ENOTFOUND.
        const { connect, events } = connectWith({ host: "no-such-host.invalid", port: 25 })
        const error = failureOf(yield* Effect.exit(connect))
        expect(error).toMatchObject({ _tag: "SocketError", operation: "lookup", host: "no-such-host.invalid" })
        expect(["ENOTFOUND", "EAI_AGAIN"]).toContain(error instanceof SocketError ? error.code : undefined)
        expect(events).toHaveLength(0)
      }))

    it.effect("an injected lookup's failure and an empty answer are lookup failures", () =>
      Effect.gen(function*() {
        const failing = connectWith({ host: "mail.test", port: 25 }, {
          lookup: (host) => Effect.fail(new SocketError({ operation: "lookup", host, port: 25, code: "ENOTFOUND" }))
        })
        expect(failureOf(yield* Effect.exit(failing.connect))).toMatchObject({ operation: "lookup", code: "ENOTFOUND" })
        const empty = connectWith({ host: "mail.test", port: 25 }, { lookup: () => Effect.succeed([]) })
        expect(failureOf(yield* Effect.exit(empty.connect))).toMatchObject({ operation: "lookup", host: "mail.test" })
        expect([...failing.events, ...empty.events]).toHaveLength(0)
      }))

    it.effect("EOF: queued data first, then SocketError 'closed' without a code", () =>
      Effect.gen(function*() {
        const { port } = yield* serve(Net.createServer((socket) => socket.end("221 bye\r\n")))
        const connection = yield* connectWith({ host: "127.0.0.1", port }).connect
        expect(yield* readUntil(connection, "\r\n")).toBe("221 bye\r\n")
        const error = failureOf(yield* Effect.exit(connection.read))
        expect(error).toMatchObject({ _tag: "SocketError", operation: "closed", address: "127.0.0.1" })
        expect(error.code).toBeUndefined()
        expect(error.socketError).toBeUndefined()
        // Writing to a connection the peer closed fails too (no hang).
        yield* realDelay(20)
        expect(failureOf(yield* Effect.exit(connection.write(bytes("QUIT\r\n"))))).toBeInstanceOf(SocketError)
      }))

    it.effect("a reset is a SocketError 'read' with ECONNRESET", () =>
      Effect.gen(function*() {
        const { port } = yield* serve(Net.createServer((socket) => {
          socket.once("data", () => socket.resetAndDestroy())
        }))
        const connection = yield* connectWith({ host: "127.0.0.1", port }).connect
        yield* connection.write(bytes("DATA\r\n"))
        const error = failureOf(yield* Effect.exit(connection.read))
        expect(error).toMatchObject({ _tag: "SocketError", operation: "read", code: "ECONNRESET" })
        expect(error.socketError).toBe(10054)
      }))
  })

  describe("lifetime", () => {
    it.effect("closing the scope destroys the socket", () =>
      Effect.gen(function*() {
        const served = yield* serve(echoServer())
        yield* Effect.scoped(Effect.gen(function*() {
          const connection = yield* connectWith({ host: "127.0.0.1", port: served.port }).connect
          yield* connection.write(bytes("NOOP\r\n"))
          yield* readUntil(connection, "\r\n")
          expect(yield* connectionCount(served.server)).toBe(1)
        }))
        yield* Effect.flatMap(firstSocket(served.sockets), socketClosed)
        yield* eventually(() => served.sockets.every((socket) => socket.destroyed), "server side closed")
        expect(yield* connectionCount(served.server)).toBe(0)
      }))

    it.effect("interrupting a fiber blocked in read destroys the socket", () =>
      Effect.gen(function*() {
        const served = yield* serve(Net.createServer(() => {}))
        const fiber = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
          const connection = yield* connectWith({ host: "127.0.0.1", port: served.port }).connect
          return yield* connection.read
        })))
        yield* eventually(() => served.sockets.length === 1, "the connection")
        yield* Fiber.interrupt(fiber)
        yield* Effect.flatMap(firstSocket(served.sockets), socketClosed)
        expect(yield* connectionCount(served.server)).toBe(0)
      }))

    it.effect("close ends gracefully: pending writes arrive, then the peer sees the end", () =>
      Effect.gen(function*() {
        let received = ""
        let ended = false
        const { port } = yield* serve(Net.createServer((socket) => {
          socket.on("data", (chunk) => received += chunk.toString())
          socket.on("end", () => ended = true)
        }))
        const connection = yield* connectWith({ host: "127.0.0.1", port }).connect
        yield* connection.write(bytes("QUIT\r\n"))
        yield* connection.close
        expect(received).toBe("QUIT\r\n")
        expect(ended).toBe(true)
        expect(failureOf(yield* Effect.exit(connection.read))).toMatchObject({ operation: "closed" })
        const writeError = failureOf(yield* Effect.exit(connection.write(bytes("NOOP\r\n"))))
        expect(writeError).toMatchObject({ operation: "closed" })
      }))

    it.live("close does not hang on a peer that never closes its side, and destroys the socket", () =>
      Effect.scoped(Effect.gen(function*() {
        let ended = false
        const served = yield* serve(Net.createServer({ allowHalfOpen: true }, (socket) => {
          socket.on("end", () => ended = true)
        }))
        const connection = yield* connectWith({ host: "127.0.0.1", port: served.port }).connect
        const started = Date.now()
        yield* connection.close
        expect(Date.now() - started).toBeLessThan(5_000)
        expect(ended).toBe(true)
        // The client socket is gone, not just half-closed: the kernel answers
        // the peer's data with a reset, so the peer's writes soon fail.
        const peer = yield* firstSocket(served.sockets)
        const timer = setInterval(() => peer.write("250 late\r\n"), 20)
        yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(timer)))
        yield* socketClosed(peer).pipe(
          Effect.timeoutOrElse({
            duration: "5 seconds",
            orElse: () => Effect.fail("the client socket was not destroyed")
          })
        )
      })))
  })

  describe("timeouts under TestClock", () => {
    it.effect("a TCP connect that hangs fails with TimeoutError after the per-attempt timeout", () =>
      Effect.gen(function*() {
        const port = yield* hangingListener
        const { connect, events } = connectWith({ host: "127.0.0.1", port, timeout: "5 seconds" })
        const fiber = yield* Effect.forkChild(Effect.scoped(connect))
        yield* untilSleeping()
        yield* TestClock.adjust("5 seconds")
        const error = failureOf(yield* Fiber.await(fiber))
        expect(error).toBeInstanceOf(TimeoutError)
        expect(error).toMatchObject({ operation: `connect to 127.0.0.1:${port} (127.0.0.1)` })
        expect(events).toHaveLength(1)
        expect(events[0]).toMatchObject({ peerAddress: "127.0.0.1", outcome: { _tag: "Failure", error } })
        expect(events[0]?.durationMs).toBe(5_000)
      }))

    it.effect("interrupting a hanging connect records one Interrupted attempt", () =>
      Effect.gen(function*() {
        const port = yield* hangingListener
        const { connect, events } = connectWith({ host: "127.0.0.1", port })
        const fiber = yield* Effect.forkChild(Effect.scoped(connect))
        yield* untilSleeping()
        yield* TestClock.adjust("1500 millis")
        yield* Fiber.interrupt(fiber)
        expect(events).toHaveLength(1)
        expect(events[0]).toMatchObject({
          peerAddress: "127.0.0.1",
          outcome: { _tag: "Interrupted" },
          durationMs: 1500
        })
      }))

    it.effect("the TLS handshake counts against the same timeout, but not in the TCP metric", () =>
      Effect.gen(function*() {
        // Accepts TCP and never answers the ClientHello.
        const { port } = yield* serve(Net.createServer(() => {}))
        const { connect, events } = connectWith({ host: "127.0.0.1", port, timeout: "10 seconds", tls: {} })
        const fiber = yield* Effect.forkChild(Effect.scoped(connect))
        yield* eventually(() => events.length === 1, "the TCP connect")
        yield* TestClock.adjust("9 seconds")
        yield* realDelay(20)
        expect(fiber.pollUnsafe()).toBeUndefined()
        yield* TestClock.adjust("1 second")
        const error = failureOf(yield* Fiber.await(fiber))
        expect(error).toBeInstanceOf(TimeoutError)
        expect(events).toHaveLength(1)
        expect(events[0]).toMatchObject({ outcome: { _tag: "Success" }, durationMs: 0 })
      }))
  })

  describe("implicit TLS", () => {
    const tlsEchoServer = (key: string, cert: string, onSecure?: (socket: Tls.TLSSocket) => void) =>
      Tls.createServer({ key, cert }, (socket) => {
        onSecure?.(socket)
        socket.on("error", () => {})
        socket.on("data", (chunk) => socket.write(chunk))
      })

    const localhostLookup = () => Effect.succeed([{ address: "127.0.0.1", family: 4 as const }])

    it.effect("connects with the test CA trusted, by name", () =>
      Effect.gen(function*() {
        const { ca, cert, key } = testCertificates()
        let servername: string | false | null | undefined
        const { port } = yield* serve(tlsEchoServer(key, cert, (socket) => servername = socket.servername))
        const { connect, events } = connectWith({ host: "localhost", port, tls: { ca } }, { lookup: localhostLookup })
        const connection = yield* connect
        expect(yield* connection.isTls).toBe(true)
        yield* connection.write(bytes("EHLO client\r\n"))
        expect(yield* readUntil(connection, "\r\n")).toBe("EHLO client\r\n")
        expect(servername).toBe("localhost")
        expect(events).toHaveLength(1)
        expect(events[0]).toMatchObject({ serverAddress: "localhost", outcome: { _tag: "Success" } })
      }))

    it.effect("an IP literal host sends no SNI but is still verified against the certificate", () =>
      Effect.gen(function*() {
        const { ca, cert, key } = testCertificates()
        let servername: string | false | null | undefined = "unset"
        const { port } = yield* serve(tlsEchoServer(key, cert, (socket) => servername = socket.servername))
        const connection = yield* connectWith({ host: "127.0.0.1", port, tls: { ca } }).connect
        yield* connection.write(bytes("NOOP\r\n"))
        expect(yield* readUntil(connection, "\r\n")).toBe("NOOP\r\n")
        expect(servername).toBe(false)
      }))

    it.effect("an untrusted certificate is TlsError CertificateRejected", () =>
      Effect.gen(function*() {
        const { ca, untrusted } = testCertificates()
        const { port } = yield* serve(tlsEchoServer(untrusted.key, untrusted.cert))
        const { connect, events } = connectWith({ host: "localhost", port, tls: { ca } }, { lookup: localhostLookup })
        const error = failureOf(yield* Effect.exit(connect))
        expect(error).toBeInstanceOf(TlsError)
        expect(error).toMatchObject({ _tag: "TlsError", reason: "CertificateRejected", host: "localhost", port })
        expect(error instanceof TlsError && error.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/)
        // TCP itself succeeded: the handshake is not part of that metric.
        expect(events.map((event) => event.outcome._tag)).toEqual(["Success"])
      }))

    it.effect("a name the certificate does not cover is CertificateRejected (ERR_TLS_CERT_ALTNAME_INVALID)", () =>
      Effect.gen(function*() {
        const { ca, cert, key } = testCertificates()
        const { port } = yield* serve(tlsEchoServer(key, cert))
        const { connect } = connectWith({ host: "127.0.0.1", port, tls: { ca, servername: "mail.example.com" } })
        expect(failureOf(yield* Effect.exit(connect))).toMatchObject({
          reason: "CertificateRejected",
          code: "ERR_TLS_CERT_ALTNAME_INVALID"
        })
      }))

    it.effect("rejectUnauthorized: false accepts an untrusted certificate", () =>
      Effect.gen(function*() {
        const { untrusted } = testCertificates()
        const { port } = yield* serve(tlsEchoServer(untrusted.key, untrusted.cert))
        const connection = yield* connectWith({ host: "127.0.0.1", port, tls: { rejectUnauthorized: false } }).connect
        yield* connection.write(bytes("NOOP\r\n"))
        expect(yield* readUntil(connection, "\r\n")).toBe("NOOP\r\n")
      }))

    it.effect("a plaintext server is TlsError HandshakeFailed", () =>
      Effect.gen(function*() {
        const { port } = yield* serve(Net.createServer((socket) => socket.write("220 plaintext ESMTP\r\n")))
        const error = failureOf(yield* Effect.exit(connectWith({ host: "127.0.0.1", port, tls: {} }).connect))
        expect(error).toMatchObject({ _tag: "TlsError", reason: "HandshakeFailed" })
        expect(error instanceof TlsError && error.code).toBeTypeOf("string")
      }))
  })

  describe("STARTTLS", () => {
    interface StartTlsServer {
      readonly port: number
      readonly sockets: Array<Net.Socket>
      /** Sends `text` in plaintext on the latest connection; resolves once handed to the OS. */
      readonly sendPlain: (text: string) => Effect.Effect<void>
    }

    /**
     * Greets, answers STARTTLS with `reply` (in one write), then speaks TLS
     * and echoes; with `upgrade: false` it stays in plaintext (the injector).
     */
    const startTlsServer = (reply: string, upgrade: boolean) =>
      Effect.gen(function*() {
        const { cert, key } = testCertificates()
        let latest: Net.Socket | undefined
        let replied: (() => void) | undefined
        const repliedOnce = new Promise<void>((resolve) => replied = resolve)
        const served = yield* serve(Net.createServer((raw) => {
          // Without Nagle a write handed to the OS is on its way at once: on
          // loopback it is in the client's receive buffer when the write
          // callback runs, which makes the injection tests deterministic.
          raw.setNoDelay(true)
          latest = raw
          raw.write("220 ready\r\n")
          const onData = (chunk: Buffer) => {
            if (chunk.toString() !== "STARTTLS\r\n") return
            raw.off("data", onData)
            raw.write(reply, () => replied?.())
            if (upgrade) {
              const secure = new Tls.TLSSocket(raw, { isServer: true, key, cert })
              secure.on("error", () => {})
              secure.on("data", (data) => secure.write(data))
            }
          }
          raw.on("data", onData)
        }))
        const server: StartTlsServer = {
          port: served.port,
          sockets: served.sockets,
          sendPlain: (text) =>
            Effect.callback<void>((resume) => {
              latest?.write(text, () => resume(Effect.void))
            })
        }
        return { server, replied: Effect.promise(() => repliedOnce) }
      })

    it.effect("upgrades a plaintext connection; reads and writes then go over TLS", () =>
      Effect.gen(function*() {
        const { ca } = testCertificates()
        const { server } = yield* startTlsServer("220 2.0.0 Ready to start TLS\r\n", true)
        const connection = yield* connectWith({ host: "127.0.0.1", port: server.port }).connect
        expect(yield* readUntil(connection, "\r\n")).toBe("220 ready\r\n")
        yield* connection.write(bytes("STARTTLS\r\n"))
        expect(yield* readUntil(connection, "\r\n")).toBe("220 2.0.0 Ready to start TLS\r\n")
        expect(yield* connection.isTls).toBe(false)
        yield* connection.upgradeTls({ ca, servername: "localhost" })
        expect(yield* connection.isTls).toBe(true)
        yield* connection.write(bytes("EHLO client\r\n"))
        expect(yield* readUntil(connection, "\r\n")).toBe("EHLO client\r\n")
      }))

    it.effect("an upgrade to an untrusted certificate is CertificateRejected", () =>
      Effect.gen(function*() {
        const { server } = yield* startTlsServer("220 go ahead\r\n", true)
        const connection = yield* connectWith({ host: "localhost", port: server.port }, {
          lookup: () => Effect.succeed([{ address: "127.0.0.1", family: 4 as const }])
        }).connect
        yield* readUntil(connection, "\r\n")
        yield* connection.write(bytes("STARTTLS\r\n"))
        yield* readUntil(connection, "\r\n")
        // Nothing trusted: the system store does not know the test CA.
        const error = failureOf(yield* Effect.exit(connection.upgradeTls({})))
        expect(error).toMatchObject({ _tag: "TlsError", reason: "CertificateRejected", host: "localhost" })
      }))

    it.effect("bytes arriving after the 220 and before the handshake: StartTlsInjection", () =>
      Effect.gen(function*() {
        const { ca } = testCertificates()
        const { server } = yield* startTlsServer("220 go ahead\r\n", false)
        const connection = yield* connectWith({ host: "127.0.0.1", port: server.port }).connect
        yield* readUntil(connection, "\r\n")
        yield* connection.write(bytes("STARTTLS\r\n"))
        // The client consumed exactly the 220 line: nothing else had been sent.
        expect(yield* readUntil(connection, "\r\n")).toBe("220 go ahead\r\n")
        // Now the injection, handed to the OS before the client upgrades.
        yield* server.sendPlain("250 injected\r\n")
        const error = failureOf(yield* Effect.exit(connection.upgradeTls({ ca, servername: "localhost" })))
        expect(error).toBeInstanceOf(SmtpProtocolError)
        expect(error).toMatchObject({ reason: "StartTlsInjection" })
        // The connection is dropped, never read as if the bytes came over TLS.
        yield* Effect.flatMap(firstSocket(server.sockets), socketClosed)
        expect(yield* connection.isTls).toBe(false)
      }))

    it.effect("plaintext the client has not read at all counts as injected", () =>
      Effect.gen(function*() {
        const { ca } = testCertificates()
        // The 220 and the injected reply in one write.
        const { replied, server } = yield* startTlsServer("220 go ahead\r\n250 injected\r\n", false)
        const connection = yield* connectWith({ host: "127.0.0.1", port: server.port }).connect
        yield* readUntil(connection, "\r\n")
        yield* connection.write(bytes("STARTTLS\r\n"))
        yield* replied
        const error = failureOf(yield* Effect.exit(connection.upgradeTls({ ca, servername: "localhost" })))
        expect(error).toMatchObject({ _tag: "SmtpProtocolError", reason: "StartTlsInjection" })
      }))
  })

  describe("backpressure", () => {
    const total = 20 * 1024 * 1024
    const piece = 64 * 1024

    /** Deterministic content, so the receiver can check every byte. */
    const pieceAt = (index: number): Buffer => Buffer.alloc(piece, index % 251)

    it.live("a slow reader holds the sender back instead of buffering 20 MB", () =>
      Effect.scoped(Effect.gen(function*() {
        let sent = 0
        const expected = Crypto.createHash("sha256")
        const { port } = yield* serve(Net.createServer((socket) => {
          let index = 0
          const pump = () => {
            while (sent < total) {
              const chunk = pieceAt(index++)
              expected.update(chunk)
              sent += chunk.length
              if (!socket.write(chunk)) {
                socket.once("drain", pump)
                return
              }
            }
            socket.end()
          }
          pump()
        }))
        const connection = yield* connectWith({ host: "127.0.0.1", port }).connect
        const actual = Crypto.createHash("sha256")
        let received = 0
        for (let i = 0; i < 10; i++) {
          const chunk = yield* connection.read
          actual.update(chunk)
          received += chunk.byteLength
          yield* realDelay(20)
        }
        // The sender is stalled: while nobody reads, nothing more leaves it.
        // (What the kernels buffer on loopback depends on tcp_rmem/wmem,
        // a few MB, so a fixed bound would test the machine, not the socket.)
        const stalledAt = sent
        yield* realDelay(200)
        expect(sent).toBe(stalledAt)
        expect(sent).toBeLessThan(total)
        while (true) {
          const exit = yield* Effect.exit(connection.read)
          if (Exit.isFailure(exit)) {
            expect(failureOf(exit)).toMatchObject({ operation: "closed" })
            break
          }
          actual.update(exit.value)
          received += exit.value.byteLength
        }
        expect(received).toBe(total)
        expect(actual.digest("hex")).toBe(expected.digest("hex"))
      })))

    it.live(
      "writing 20 MB to a slow reader completes with every byte arriving",
      () =>
        Effect.scoped(Effect.gen(function*() {
          let received = 0
          const actual = Crypto.createHash("sha256")
          let done: (() => void) | undefined
          const allArrived = new Promise<void>((resolve) => done = resolve)
          const { port } = yield* serve(Net.createServer((socket) => {
            socket.on("data", (chunk) => {
              actual.update(chunk)
              received += chunk.length
              if (received >= total) done?.()
              // Slow: a pause after every chunk.
              socket.pause()
              setTimeout(() => socket.resume(), 1)
            })
          }))
          const connection = yield* connectWith({ host: "127.0.0.1", port }).connect
          const expected = Crypto.createHash("sha256")
          for (let index = 0; index < total / piece; index++) {
            const chunk = pieceAt(index)
            expected.update(chunk)
            yield* connection.write(chunk)
          }
          yield* Effect.promise(() => allArrived)
          expect(received).toBe(total)
          expect(actual.digest("hex")).toBe(expected.digest("hex"))
        })),
      60_000
    )
  })
})
