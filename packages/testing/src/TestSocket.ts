/**
 * An in-memory `Socket` whose server side is a script: an Effect that reads
 * what the client writes and answers. No network, so protocol tests run
 * under `TestClock`, and an application's tests can script any server, or
 * run the test server engine (`smtpServer`) with its faults.
 *
 * @since 0.1.0
 */
import { SocketError } from "@effect-smtp/client/SmtpError"
import { outcomeOf, SmtpMetrics } from "@effect-smtp/client/SmtpMetrics"
import { type ConnectOptions, type PeerVerification, Socket } from "@effect-smtp/client/Socket"
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Server } from "./internal/engine/server.js"
import { memoryLink } from "./internal/memoryLink.js"
import { pipe } from "./internal/memoryPipe.js"
import type * as TestServer from "./TestServer.js"

/**
 * The server's end of one connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerSide {
  /** What the client asked to connect to. */
  readonly options: ConnectOptions
  /** Sends bytes to the client (text is UTF-8 encoded). */
  readonly send: (data: string | Uint8Array) => Effect.Effect<void>
  /** The next line the client wrote, without CRLF. Fails when the client closed. */
  readonly readLine: Effect.Effect<string, Cause.NoSuchElementError>
  /** Exactly `n` bytes the client wrote (BDAT chunks). */
  readonly readBytes: (n: number) => Effect.Effect<Uint8Array, Cause.NoSuchElementError>
  /** The bytes of a DATA body up to and including `CRLF.CRLF`, as sent (dot-stuffed). */
  readonly readData: Effect.Effect<Uint8Array, Cause.NoSuchElementError>
  /** Whether the client has started TLS (STARTTLS) on this connection. */
  readonly isTls: Effect.Effect<boolean>
  /** Whether bytes from the client are waiting to be read (a pipelined command, say). */
  readonly hasPending: Effect.Effect<boolean>
  /**
   * Aborts the connection as a TCP reset would: the client's next read or
   * write fails with a `SocketError` whose code is `ECONNRESET`. (Returning
   * from the script is the graceful close.)
   */
  readonly reset: Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The peer IP the connection reports (default `127.0.0.1`). */
  readonly remoteAddress?: string | undefined
  /**
   * Runs before each connection is made: fail to refuse it, sleep to make it
   * slow. Its duration counts as the TCP connect.
   */
  readonly beforeConnect?: ((options: ConnectOptions) => Effect.Effect<void, SocketError>) | undefined
  /**
   * What the connection reports of the server's certificate once it is TLS
   * (default: verified). `{ verified: false, reason: "ERR_TLS_CERT_ALTNAME_INVALID" }`
   * models a handshake let through by `rejectUnauthorized: false`.
   */
  readonly peerVerification?: PeerVerification | undefined
}

/**
 * A `Socket` whose every connection is served by `script`. The connection
 * closes (for the client: the peer closed) when the script ends.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  script: (server: ServerSide) => Effect.Effect<void, unknown>,
  options: Options = {}
): Layer.Layer<Socket> =>
  Layer.effect(
    Socket,
    Effect.map(Effect.serviceOption(SmtpMetrics), (metrics) => ({
      connect: (connectOptions) =>
        Effect.gen(function*() {
          const address = options.remoteAddress ?? "127.0.0.1"
          const started = yield* Clock.currentTimeNanos
          const record = (exit: Exit.Exit<unknown, SocketError>) =>
            Option.match(metrics, {
              onNone: () => Effect.void,
              onSome: (m) =>
                Effect.flatMap(Clock.currentTimeNanos, (now) =>
                  m.socketConnect({
                    serverAddress: connectOptions.host,
                    serverPort: connectOptions.port,
                    peerAddress: address,
                    durationMs: Number(now - started) / 1e6,
                    outcome: outcomeOf(exit, () =>
                      new SocketError({
                        operation: "connect",
                        host: connectOptions.host,
                        port: connectOptions.port,
                        address
                      }))
                  }))
            })
          yield* (options.beforeConnect?.(connectOptions) ?? Effect.void).pipe(Effect.onExit(record))
          return yield* pipe(connectOptions, address, script, options.peerVerification ?? { verified: true })
        })
    }))
  )

/**
 * A message the scripted SMTP server received.
 *
 * @since 0.1.0
 * @category models
 */
export type ReceivedMessage = TestServer.ReceivedMessage

/**
 * The test server's options in memory, and two shorthands kept for
 * convenience: `rcpt` refuses recipients, `credentials` accepts a user.
 *
 * Unlike over TCP, STARTTLS is always accepted (the client's upgrade is only
 * a flag here) and offered only when `capabilities` lists it or `startTls`
 * is set; `capabilities` otherwise follow the engine's rules with
 * `extensions` defaulting to `SMTPUTF8` and `SIZE 10485760`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SmtpServerConfig extends TestServer.Options {
  /** Offer STARTTLS in the computed EHLO reply (default false). */
  readonly startTls?: boolean | undefined
  /** The reply to a RCPT TO, or `undefined` to accept (default: accept all); consulted after `faults`. */
  readonly rcpt?: ((address: string) => string | undefined) | undefined
  /**
   * Accepted credentials for AUTH PLAIN, LOGIN and CRAM-MD5; the password is
   * also the one valid XOAUTH2 / OAUTHBEARER token. AUTH is not required for
   * MAIL. Default `user` / `pass`, unless `auth` is given.
   */
  readonly credentials?: { readonly user: string; readonly password: string } | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SmtpServer {
  /** The script for `layer`: each connection runs one session of the engine. */
  readonly script: (server: ServerSide) => Effect.Effect<void, unknown>
  /** Every message accepted, in order (a live view). */
  readonly received: ReadonlyArray<ReceivedMessage>
  /** Every command line received, AUTH without its initial response (a live view). */
  readonly commands: ReadonlyArray<string>
  /** Bodies whose end arrived with the next command already behind it (RFC 2920 §3.1). */
  readonly pipelinedAfterBody: () => number
  /** Commands refused for arriving behind a body's end (`refusePipelinedAfterData`). */
  readonly refusedAfterData: () => number
  readonly connections: () => ReadonlyArray<TestServer.ConnectionRecord>
}

/**
 * The test server engine as a script for `layer`, and what it received.
 * Without faults it is a small, well-behaved server.
 *
 * @since 0.1.0
 * @category constructors
 */
export const smtpServer = (config: SmtpServerConfig = {}): SmtpServer => {
  const { credentials, rcpt, startTls, ...options } = config
  const refuse = rcpt
  const faults = refuse === undefined ?
    options.faults :
    (context: TestServer.FaultContext): TestServer.Fault | undefined => {
      const planned = typeof options.faults === "function" ? options.faults(context) : options.faults?.[context.stage]
      if (planned !== undefined || context.stage !== "rcpt") return planned
      const refusal = refuse(/<([^>]*)>/.exec(context.command)?.[1] ?? "")
      return refusal === undefined ? undefined : { _tag: "Reply", text: refusal, close: false }
    }
  const user = credentials ?? { user: "user", password: "pass" }
  const engine = new Server({
    extensions: ["SMTPUTF8", "SIZE 10485760"],
    // Accepted, not offered: AUTH shows in the EHLO reply only when `capabilities` lists it.
    auth: { user: user.user, password: user.password, accessToken: user.password, mechanisms: [], required: false },
    ...options,
    faults
  }, startTls === true)
  return {
    script: (side) => engine.connection(memoryLink(side)),
    get received() {
      return engine.messages
    },
    get commands() {
      return engine.commands.map((c) => (c.toUpperCase().startsWith("AUTH ") ? c.split(" ").slice(0, 2).join(" ") : c))
    },
    pipelinedAfterBody: () => engine.connections.reduce((n, c) => n + c.pipelinedAfterBody, 0),
    refusedAfterData: () => engine.connections.reduce((n, c) => n + c.refusedAfterData, 0),
    connections: () => engine.connections
  }
}
