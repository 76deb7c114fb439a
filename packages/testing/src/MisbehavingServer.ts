/**
 * The test server engine over TCP on loopback, for effect-smtp's own
 * hardening tests and for applications' tests: a real server that, at any
 * stage of a session, can close, reset, stall, send garbage, an over-long
 * line or endless continuation lines, answer 421 / 4xx / 5xx, inject
 * lines after its STARTTLS reply, or answer late (see `TestServer` for the
 * faults and the options). Otherwise it behaves like a small, ordinary
 * server, with a real TLS upgrade for STARTTLS (or TLS from the first byte),
 * and it reports how many connections are open and everything it received.
 *
 * The server runs on the live clock and its own runtime, whatever clock or
 * services the test uses: a `TestClock` never freezes its delays, and its
 * work never counts as the test's.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import type { AddressInfo } from "node:net"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { Server, type Wire } from "./internal/engine.js"
import { BodyDecoder, ByteReader } from "./internal/reader.js"
import type * as TestServer from "./TestServer.js"

/**
 * @since 0.1.0
 * @category models
 */
export type {
  AuthOptions,
  Close,
  ConnectionRecord,
  Delay,
  EndlessContinuation,
  Fault,
  FaultContext,
  FaultPlan,
  Garbage,
  Limits,
  LongLine,
  Mechanism,
  ReceivedMessage,
  Reply,
  Reset,
  Stage,
  Stall,
  StartTlsInjection
} from "./TestServer.js"

/**
 * The faults and stages of `TestServer`, here too so that one import serves a test.
 *
 * @since 0.1.0
 * @category constructors
 */
export {
  close,
  delay,
  endlessContinuation,
  garbage,
  longLine,
  permanent,
  randomFaults,
  reply,
  reset,
  serviceClosing,
  stages,
  stall,
  startTlsInjection,
  transient
} from "./TestServer.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends TestServer.Options {
  /**
   * A key and certificate (PEM) for TLS: STARTTLS is offered and upgrades for
   * real, or with `implicit` the connection is TLS from the first byte (SMTPS)
   * and STARTTLS is not offered.
   */
  readonly tls?:
    | {
      readonly key: string | Uint8Array
      readonly cert: string | Uint8Array
      readonly implicit?: boolean | undefined
    }
    | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface MisbehavingServer {
  readonly host: string
  readonly port: number
  /** Connections open right now (accepted and not yet closed on the server's side). */
  readonly openConnections: Effect.Effect<number>
  readonly acceptedConnections: Effect.Effect<number>
  readonly connections: Effect.Effect<ReadonlyArray<TestServer.ConnectionRecord>>
  /** Every command line of every connection, in arrival order. */
  readonly commands: Effect.Effect<ReadonlyArray<string>>
  readonly messages: Effect.Effect<ReadonlyArray<TestServer.ReceivedMessage>>
  /**
   * Waits, at most `timeout` of wall-clock time (default 2 seconds), until
   * exactly `count` connections are open, and returns the number open when it
   * stopped waiting: `count`, or what it was at the deadline.
   */
  readonly awaitOpenConnections: (count: number, timeout?: Duration.Input) => Effect.Effect<number>
  /**
   * Waits, at most `timeout` of wall-clock time (default 2 seconds), until a
   * fault has struck at `stage` on some connection; false if none had by then.
   */
  readonly awaitFault: (stage: TestServer.Stage, timeout?: Duration.Input) => Effect.Effect<boolean>
}

/**
 * One TCP connection as the engine's wire. The socket underneath changes
 * after STARTTLS.
 */
class TcpWire implements Wire {
  private readonly chunks: Array<Uint8Array> = []
  private ended = false
  private waiter: (() => void) | undefined = undefined
  private readonly reader: ByteReader
  socket: Net.Socket
  readonly canStartTls: boolean

  constructor(readonly raw: Net.Socket, private readonly context: Tls.SecureContext | undefined, implicit: boolean) {
    this.socket = raw
    this.canStartTls = context !== undefined && !implicit
    this.attach(raw)
    this.reader = new ByteReader(this.next)
  }

  private readonly onData = (chunk: Buffer): void => {
    this.chunks.push(chunk)
    this.wake()
  }

  private readonly onEnd = (): void => {
    this.ended = true
    this.wake()
  }

  private wake(): void {
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.()
  }

  private attach(socket: Net.Socket): void {
    socket.on("data", this.onData)
    socket.on("end", this.onEnd)
    socket.on("close", this.onEnd)
  }

  private detach(socket: Net.Socket): void {
    socket.off("data", this.onData)
    socket.off("end", this.onEnd)
    socket.off("close", this.onEnd)
  }

  /** The next chunk received, `undefined` once the client closed. */
  private readonly next: Effect.Effect<Uint8Array | undefined> = Effect.suspend(() => {
    const chunk = this.chunks.shift()
    if (chunk !== undefined) return Effect.succeed(chunk)
    if (this.ended) return Effect.succeed(undefined)
    return Effect.flatMap(
      Effect.callback<void>((resume) => {
        this.waiter = () => resume(Effect.void)
        return Effect.sync(() => {
          this.waiter = undefined
        })
      }),
      () => this.next
    )
  })

  readLine = (maxBytes: number) => this.reader.readLine({ maxBytes, bareLf: true })

  readBytes = (n: number) => this.reader.readBytes(n)

  readData = (keep: number) =>
    Effect.suspend(() => {
      const body = new BodyDecoder(keep)
      return Effect.map(this.reader.readData(body), (ended) => (ended ? body.decoded : undefined))
    })

  readonly hasPending = Effect.sync(() => this.reader.buffered > 0 || this.chunks.length > 0)

  readonly isTls = Effect.sync(() => this.socket !== this.raw)

  /** Writes and waits until the bytes are handed to the OS; false when the socket is gone. */
  write = (data: string | Uint8Array): Effect.Effect<boolean> =>
    Effect.callback<boolean>((resume) => {
      const socket = this.socket
      if (socket.destroyed || !socket.writable) return resume(Effect.succeed(false))
      socket.write(data, (error) => resume(Effect.succeed(error === undefined || error === null)))
    })

  /**
   * Writes `reply` (if any) and starts TLS in one synchronous step, so no byte
   * of the client's handshake can reach the plaintext reader in between.
   * Plaintext the client pipelined after STARTTLS is discarded (what Postfix
   * does since CVE-2011-0411). False when the handshake failed.
   */
  startTls = (reply: string | undefined): Effect.Effect<boolean> =>
    Effect.callback<boolean>((resume) => {
      const raw = this.raw
      const context = this.context
      if (context === undefined || raw.destroyed || !raw.writable) return resume(Effect.succeed(false))
      if (reply !== undefined) raw.write(reply)
      this.detach(raw)
      this.chunks.length = 0
      this.reader.discard()
      const socket = new Tls.TLSSocket(raw, { isServer: true, secureContext: context })
      // A client that refuses the certificate aborts the handshake: that is a
      // test outcome, not a crash of the server.
      socket.on("error", () => {})
      this.socket = socket
      this.attach(socket)
      const onSecure = () => {
        socket.off("close", onClose)
        resume(Effect.succeed(true))
      }
      const onClose = () => {
        socket.off("secure", onSecure)
        resume(Effect.succeed(false))
      }
      socket.once("secure", onSecure)
      socket.once("close", onClose)
    })

  /** A graceful close: FIN (after TLS close_notify), the rest when the client closes too. */
  readonly end: Effect.Effect<void> = Effect.sync(() => {
    this.socket.end()
  })

  readonly reset: Effect.Effect<void> = Effect.sync(() => {
    if (!this.raw.destroyed) this.raw.resetAndDestroy()
  })
}

const toPem = (value: string | Uint8Array): string | Buffer =>
  typeof value === "string" ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)

/**
 * Starts the server on 127.0.0.1, on a free port, for the life of the scope.
 * Closing the scope closes the listener and destroys every connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<MisbehavingServer, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.callback<Listener>((resume) => {
        const listener = new Listener(options)
        listener.server.listen(0, "127.0.0.1", () => resume(Effect.succeed(listener)))
      }),
      (listener) => listener.shutdown
    ),
    (listener) => listener.api()
  )

class Listener {
  readonly server: Net.Server
  private readonly engine: Server
  private readonly sockets = new Set<Net.Socket>()
  private readonly fibers = new Set<Fiber.Fiber<void>>()
  private readonly context: Tls.SecureContext | undefined
  private readonly implicit: boolean

  constructor(options: Options) {
    this.context = options.tls === undefined
      ? undefined
      : Tls.createSecureContext({ key: toPem(options.tls.key), cert: toPem(options.tls.cert) })
    this.implicit = options.tls?.implicit === true
    this.engine = new Server(options, this.context !== undefined && !this.implicit)
    this.server = Net.createServer((socket) => this.accept(socket))
  }

  private accept(socket: Net.Socket): void {
    this.sockets.add(socket)
    // A client that resets the connection must not crash the test process.
    socket.on("error", () => {})
    socket.setNoDelay(true)
    const wire = new TcpWire(socket, this.context, this.implicit)
    // Open until the socket is closed on both sides, whatever the session did.
    const connection = this.engine.accept()
    const run = this.engine.run(connection, wire)
    const session = this.implicit
      ? Effect.flatMap(wire.startTls(undefined), (secure) => (secure ? run : Effect.void))
      : run
    // The server's own runtime: live clock, no test services.
    const fiber = Effect.runFork(session)
    this.fibers.add(fiber)
    fiber.addObserver(() => this.fibers.delete(fiber))
    socket.once("close", () => {
      this.sockets.delete(socket)
      fiber.interruptUnsafe()
      this.engine.closed(connection)
    })
  }

  readonly shutdown: Effect.Effect<void> = Effect.callback<void>((resume) => {
    for (const fiber of this.fibers) fiber.interruptUnsafe()
    for (const socket of this.sockets) socket.destroy()
    this.server.close(() => resume(Effect.void))
  })

  /** Waits on the wall clock until `done()` holds, at most `timeout`; then `result()`. */
  private until<A>(done: () => boolean, result: () => A, timeout: Duration.Input): Effect.Effect<A> {
    return Effect.callback<A>((resume) => {
      if (done()) return resume(Effect.succeed(result()))
      // Wall-clock on purpose: it bounds a wait for real sockets, and must not
      // hang a test that runs on TestClock.
      const finish = () => {
        clearTimeout(timer)
        unwatch()
        resume(Effect.succeed(result()))
      }
      const unwatch = this.engine.watch(() => {
        if (done()) finish()
      })
      const timer = setTimeout(finish, Duration.toMillis(Duration.fromInputUnsafe(timeout)))
      return Effect.sync(() => {
        clearTimeout(timer)
        unwatch()
      })
    })
  }

  api(): MisbehavingServer {
    const address = this.server.address() as AddressInfo
    const engine = this.engine
    return {
      host: "127.0.0.1",
      port: address.port,
      openConnections: Effect.sync(() => engine.open),
      acceptedConnections: Effect.sync(() => engine.accepted),
      connections: Effect.sync(() => engine.connections),
      commands: Effect.sync(() => [...engine.commands]),
      messages: Effect.sync(() => [...engine.messages]),
      awaitOpenConnections: (count, timeout = Duration.seconds(2)) =>
        this.until(() => engine.open === count, () => engine.open, timeout),
      awaitFault: (stage, timeout = Duration.seconds(2)) => {
        const struck = () => engine.connections.some((c) => c.faults.includes(stage))
        return this.until(struck, struck, timeout)
      }
    }
  }
}

/**
 * A loopback port nothing listens on (bound, read and released again), for
 * testing a refused connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const closedPort: Effect.Effect<number> = Effect.callback<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})
