/**
 * `Socket.connect` for Node: resolve, then one measured TCP attempt per
 * address until one connects, then implicit TLS when asked.
 */
import { SocketError, TimeoutError } from "@effect-smtp/client/SmtpError"
import type { TlsError } from "@effect-smtp/client/SmtpError"
import { SmtpMetrics } from "@effect-smtp/client/SmtpMetrics"
import type { Outcome } from "@effect-smtp/client/SmtpMetrics"
import type { Connection, ConnectOptions, SocketService } from "@effect-smtp/client/Socket"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Dns from "node:dns"
import * as Net from "node:net"
import type * as NodeSocket from "../NodeSocket.js"
import { codeOf, NodeConnection, type Target } from "./nodeConnection.js"

type ResolvedAddress = NodeSocket.ResolvedAddress

/** @internal */
export const defaultTimeout: Duration.Duration = Duration.minutes(2)

const ipLiteral = (host: string): ResolvedAddress | undefined => {
  const family = Net.isIP(host)
  return family === 4 ? { address: host, family: 4 } : family === 6 ? { address: host, family: 6 } : undefined
}

const dnsLookup = (host: string, port: number): Effect.Effect<ReadonlyArray<ResolvedAddress>, SocketError> =>
  Effect.async<ReadonlyArray<ResolvedAddress>, SocketError>((resume) => {
    // getaddrinfo cannot be cancelled; an interrupted lookup's answer is ignored.
    Dns.lookup(host, { all: true }, (error, addresses) => {
      if (error !== null) {
        resume(Effect.fail(new SocketError({ operation: "lookup", host, port, code: codeOf(error), cause: error })))
      } else {
        resume(Effect.succeed(addresses.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }))))
      }
    })
  })

const outcomeOf = (exit: Exit.Exit<unknown, SocketError | TimeoutError>, target: Target): Outcome => {
  if (Exit.isSuccess(exit)) {
    return { _tag: "Success" }
  }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    return { _tag: "Failure", error: failure.value }
  }
  if (Cause.isInterruptedOnly(exit.cause)) {
    return { _tag: "Interrupted" }
  }
  // A defect: still one record for this attempt, as the failed connect it is.
  return {
    _tag: "Failure",
    error: new SocketError({
      operation: "connect",
      host: target.host,
      port: target.port,
      address: target.address,
      cause: Cause.squash(exit.cause)
    })
  }
}

/** A TCP connection and when its attempt started (the TLS handshake shares its budget). */
interface Attempt {
  readonly connection: NodeConnection
  readonly start: bigint
}

/** What is left of one attempt's budget after `elapsedNanos`. */
const remaining = (timeout: Duration.Duration, elapsedNanos: bigint): Duration.Duration => {
  if (!Duration.isFinite(timeout)) {
    return timeout
  }
  const left = Duration.toMillis(timeout) - Number(elapsedNanos) / 1_000_000
  return Duration.millis(Math.max(0, left))
}

/** @internal */
export const make = (socketOptions: NodeSocket.NodeSocketOptions): Effect.Effect<SocketService, never, SmtpMetrics> =>
  Effect.map(SmtpMetrics, (metrics) => {
    const resolve = (
      host: string,
      port: number
    ): Effect.Effect<Arr.NonEmptyReadonlyArray<ResolvedAddress>, SocketError> => {
      const literal = ipLiteral(host)
      if (literal !== undefined) {
        return Effect.succeed([literal])
      }
      const { lookup } = socketOptions
      const resolved = lookup !== undefined ? lookup(host) : dnsLookup(host, port)
      return Effect.flatMap(resolved, (addresses) =>
        Arr.isNonEmptyReadonlyArray(addresses)
          ? Effect.succeed(addresses)
          : Effect.fail(new SocketError({ operation: "lookup", host, port })))
    }

    const onTimeout = (target: Target, timeout: Duration.Duration) => () =>
      new TimeoutError({ operation: `connect to ${target.host}:${target.port} (${target.address})`, timeout })

    /** One TCP attempt, recorded once as the socket.connect metric. */
    const connectTcp = (
      target: Target,
      timeout: Duration.Duration
    ): Effect.Effect<Attempt, SocketError | TimeoutError, Scope.Scope> =>
      Effect.gen(function*() {
        const connection = new NodeConnection(target)
        // Registered before the socket exists, so no interruption point lies
        // between creating the socket and owning it.
        yield* Effect.addFinalizer(() => Effect.sync(() => connection.destroy()))
        const start = yield* Clock.currentTimeNanos
        // The timeout sits inside the measured effect, so a timed-out attempt
        // records a failure (TimeoutError), not an interruption.
        yield* connection.connectTcp().pipe(
          Effect.timeoutFail({ duration: timeout, onTimeout: onTimeout(target, timeout) }),
          Effect.onExit((exit) =>
            Effect.flatMap(Clock.currentTimeNanos, (end) =>
              metrics.socketConnect({
                serverAddress: target.host,
                serverPort: target.port,
                peerAddress: target.address,
                outcome: outcomeOf(exit, target),
                durationMs: Number(end - start) / 1_000_000
              }))
          )
        )
        return { connection, start }
      })

    const connect = (
      options: ConnectOptions
    ): Effect.Effect<Connection, SocketError | TlsError | TimeoutError, Scope.Scope> =>
      Effect.gen(function*() {
        const timeout = Duration.decode(options.timeout ?? defaultTimeout)
        const addresses = yield* resolve(options.host, options.port)
        const attempts = Arr.map(addresses, (resolved) =>
          connectTcp({
            host: options.host,
            port: options.port,
            address: resolved.address,
            family: resolved.family
          }, timeout))
        // In order; when every address failed, this fails with the last error.
        const { connection, start } = yield* Effect.firstSuccessOf(attempts)
        if (options.tls !== undefined) {
          // Not part of the TCP metric, but part of the attempt: it gets what
          // is left of the same timeout. A certificate or handshake failure is
          // about the server, not the address, so other addresses are not tried.
          const elapsed = (yield* Clock.currentTimeNanos) - start
          yield* connection.startTls(options.tls).pipe(
            Effect.timeoutFail({
              duration: remaining(timeout, elapsed),
              onTimeout: onTimeout(connection.target, timeout)
            })
          )
        }
        return connection.open()
      })

    return { connect }
  })
