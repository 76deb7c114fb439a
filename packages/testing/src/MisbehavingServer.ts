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
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { AddressInfo } from "node:net"
import * as Net from "node:net"
import { Listener } from "./internal/node/tcpListener.js"
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
