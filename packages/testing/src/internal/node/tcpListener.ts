/**
 * The misbehaving server's TCP side: a listener on loopback that runs the
 * engine on every connection it accepts.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type { AddressInfo } from "node:net"
import * as Net from "node:net"
import * as Tls from "node:tls"
import type { MisbehavingServer, Options } from "../../MisbehavingServer.js"
import { Server } from "../engine/server.js"
import { TcpLink } from "./tcpLink.js"

const toPem = (value: string | Uint8Array): string | Buffer =>
  typeof value === "string" ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)

/**
 * The loopback listener: it accepts connections, runs a session on each on
 * the server's own runtime, and answers what the server saw.
 *
 * @internal
 */
export class Listener {
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
    const link = new TcpLink(socket, this.context, this.implicit)
    // Open until the socket is closed on both sides, whatever the session did.
    const connection = this.engine.accept()
    const run = this.engine.run(connection, link)
    const session = this.implicit
      ? Effect.flatMap(link.startTls(undefined), (secure) => (secure ? run : Effect.void))
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
