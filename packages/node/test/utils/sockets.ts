/**
 * Real loopback sockets for transport tests that run on the TestClock: a
 * server on a chosen address and port, a port whose connects hang
 * deterministically, and a view of this machine's half-open connects.
 */
import { pendingSleeps } from "@effect-smtp/test-utils/testClock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { Worker } from "node:worker_threads"

/** Real time, for waits on real sockets while the tests' Clock is a TestClock. */
export const realDelay = (millis: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(timer))
  })

/** Waits until `predicate` holds, polling in real time. */
export const eventually = (predicate: () => boolean, what: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      if (predicate()) return
      yield* realDelay(10)
    }
    return yield* Effect.die(new Error(`timed out waiting for ${what}`))
  })

/** Waits until the TestClock has at least `count` pending sleeps. */
export const untilSleeping = (count = 1): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      if ((yield* pendingSleeps) >= count) return
      yield* realDelay(5)
    }
    return yield* Effect.die(new Error(`fewer than ${count} pending sleeps on the TestClock`))
  })

export interface Served {
  readonly port: number
  readonly server: Net.Server
  /** Every raw socket the server accepted. */
  readonly sockets: Array<Net.Socket>
}

/**
 * Listens on `host` (127/8 is all loopback on Linux) and `port` (0: any) for
 * the scope; closing destroys every accepted socket.
 */
export const serve = (
  server: Net.Server,
  host = "127.0.0.1",
  port = 0
): Effect.Effect<Served, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Served>((resume) => {
      const sockets: Array<Net.Socket> = []
      server.on("connection", (socket: Net.Socket) => {
        sockets.push(socket)
        // A client destroying its side mid-test must not crash the test process.
        socket.on("error", () => {})
      })
      server.on("tlsClientError", () => {})
      server.listen(port, host, () => {
        const address = server.address()
        resume(
          Effect.succeed({ port: typeof address === "object" && address !== null ? address.port : 0, server, sockets })
        )
      })
    }),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  )

/**
 * A port on 127.0.0.1 whose accept queue is full, so a TCP connect to it hangs
 * in SYN_SENT (Linux drops SYNs when the queue is full): a black hole, but on
 * loopback. It listens in a worker whose event loop is blocked, so nothing
 * ever accepts; the queue (backlog 1) is then filled from here until a
 * connect stops completing. That last filler stays in SYN_SENT itself.
 */
export const hangingListener: Effect.Effect<number, never, Scope.Scope> = Effect.gen(function*() {
  const { port } = yield* Effect.acquireRelease(
    Effect.callback<{ readonly port: number; readonly worker: Worker; readonly lock: Int32Array }>((resume) => {
      const lock = new Int32Array(new SharedArrayBuffer(4))
      const worker = new Worker(
        `
        const { parentPort, workerData } = require("node:worker_threads")
        const net = require("node:net")
        const server = net.createServer().listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
          parentPort.postMessage(server.address().port)
          Atomics.wait(workerData, 0, 0)
        })
        `,
        { eval: true, workerData: lock }
      )
      worker.once("message", (port: number) => resume(Effect.succeed({ port, worker, lock })))
    }),
    ({ lock, worker }) =>
      Effect.promise(() => {
        Atomics.store(lock, 0, 1)
        Atomics.notify(lock, 0)
        return worker.terminate()
      })
  )
  const fillers: Array<Net.Socket> = []
  yield* Effect.addFinalizer(() => Effect.sync(() => fillers.forEach((socket) => socket.destroy())))
  for (let i = 0; i < 16; i++) {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.on("error", () => {})
    fillers.push(socket)
    const connected = yield* Effect.race(
      Effect.callback<boolean>((resume) => void socket.once("connect", () => resume(Effect.succeed(true)))),
      Effect.as(realDelay(300), false)
    )
    if (!connected) return port
  }
  return yield* Effect.die(new Error("could not fill the accept queue"))
})

/**
 * How many sockets on this machine are in SYN_SENT towards 127.0.0.1:`port`,
 * read from /proc/net/tcp (Linux): a connect that is still trying. A
 * destroyed socket leaves the table at once.
 */
export const synSentTo = (port: number): number => {
  const remote = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`
  return Fs.readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[2] === remote && fields[3] === "02")
    .length
}
