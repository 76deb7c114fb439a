/**
 * `Socket.connect` for Node: resolve, then one measured TCP attempt per
 * address, raced with Happy Eyeballs (RFC 8305), then implicit TLS on the
 * winner when asked.
 */
import { SocketError, TimeoutError } from "@effect-smtp/client/SmtpError"
import type { TlsError } from "@effect-smtp/client/SmtpError"
import { outcomeOf, SmtpMetrics } from "@effect-smtp/client/SmtpMetrics"
import type { Connection, ConnectOptions, SocketService } from "@effect-smtp/client/Socket"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Dns from "node:dns"
import * as Net from "node:net"
import type * as NodeSocket from "../NodeSocket.js"
import { codeOf, NodeConnection, type Target } from "./nodeConnection.js"

type ResolvedAddress = NodeSocket.ResolvedAddress

/** @internal */
export const defaultTimeout: Duration.Duration = Duration.minutes(2)

/**
 * RFC 8305's recommended "Connection Attempt Delay".
 *
 * @internal
 */
export const defaultHappyEyeballsDelay: Duration.Duration = Duration.millis(250)

const ofFamily = (
  addresses: ReadonlyArray<ResolvedAddress>,
  family: 4 | 6 | undefined
): ReadonlyArray<ResolvedAddress> =>
  family === undefined ? addresses : Arr.filter(addresses, (address) => address.family === family)

/**
 * The order Happy Eyeballs tries addresses in: RFC 8305 section 4 with a
 * "First Address Family Count" of 1, so IPv6 first, then the families
 * alternate, each keeping the resolver's order; what is left of the longer
 * family comes last. With `family`, only that family, in the resolver's order.
 *
 * @internal
 */
export const orderAddresses = (
  addresses: ReadonlyArray<ResolvedAddress>,
  family?: 4 | 6 | undefined
): Array<ResolvedAddress> => {
  const [v4, v6] = Arr.partition(ofFamily(addresses, family), (address) => address.family === 6)
  const ordered: Array<ResolvedAddress> = []
  for (let i = 0; i < v6.length || i < v4.length; i++) {
    const six = v6[i]
    const four = v4[i]
    if (six !== undefined) ordered.push(six)
    if (four !== undefined) ordered.push(four)
  }
  return ordered
}

/** Joins the other racer, unless this one won or died. */
const settle = <A, E>(exit: Exit.Exit<A, E>, other: Fiber.Fiber<A, E>): Effect.Effect<A, E> => {
  if (Exit.isSuccess(exit)) {
    return Effect.as(Fiber.interrupt(other), exit.value)
  }
  // A defect ends the race, as `Effect.firstSuccessOf` would let it.
  return Cause.isDie(exit.cause) ? Effect.zipRight(Fiber.interrupt(other), exit) : Fiber.join(other)
}

/**
 * Runs `attempts` staggered, as RFC 8305 section 5 runs connection attempts:
 * each runs alone for `delay` before the next starts beside it, and a failure
 * starts the next at once. The first success wins and the attempts still
 * running are interrupted (and awaited); when every attempt fails, the error is
 * the one that came last. A `delay` of `Duration.infinity` runs them one at a
 * time, in order.
 *
 * @internal
 */
export const staggeredRace = <A, E, R>(
  attempts: Arr.NonEmptyReadonlyArray<Effect.Effect<A, E, R>>,
  delay: Duration.Duration
): Effect.Effect<A, E, R> => {
  const [first, ...rest] = attempts
  if (!Arr.isNonEmptyReadonlyArray(rest)) {
    return first
  }
  return Effect.flatMap(Deferred.make<void>(), (failed) => {
    const head = Effect.tapErrorCause(first, () => Deferred.succeed(failed, undefined))
    const headFailed = Deferred.await(failed)
    const turn = Duration.isFinite(delay) ? Effect.race(Effect.sleep(delay), headFailed) : headFailed
    return Effect.raceWith(head, Effect.zipRight(turn, staggeredRace(rest, delay)), {
      onSelfDone: settle,
      onOtherDone: settle
    })
  })
}

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

/** A defect in a connect attempt: still one record for it, as the failed connect it is. */
const connectDefect = (target: Target) => (cause: Cause.Cause<unknown>): SocketError =>
  new SocketError({
    operation: "connect",
    host: target.host,
    port: target.port,
    address: target.address,
    cause: Cause.squash(cause)
  })

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
    const { family, happyEyeballs = true, lookup } = socketOptions
    const delay = happyEyeballs
      ? Duration.decode(socketOptions.happyEyeballsDelay ?? defaultHappyEyeballsDelay)
      : Duration.infinity

    /** The addresses to try, in the order to try them. */
    const resolve = (
      host: string,
      port: number
    ): Effect.Effect<Arr.NonEmptyReadonlyArray<ResolvedAddress>, SocketError> => {
      const literal = ipLiteral(host)
      const resolved = literal !== undefined
        ? Effect.succeed([literal])
        : lookup !== undefined
        ? lookup(host)
        : dnsLookup(host, port)
      return Effect.flatMap(resolved, (addresses) => {
        const candidates = happyEyeballs ? orderAddresses(addresses, family) : ofFamily(addresses, family)
        return Arr.isNonEmptyReadonlyArray(candidates)
          ? Effect.succeed(candidates)
          // ENODATA: the name exists, but has no address of the pinned family.
          : Effect.fail(
            new SocketError({ operation: "lookup", host, port, code: addresses.length > 0 ? "ENODATA" : undefined })
          )
      })
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
                outcome: outcomeOf(exit, connectDefect(target)),
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
        const scope = yield* Effect.scope
        const claimed = yield* Ref.make(false)
        // Each attempt owns a scope of its own that only the winner keeps, so
        // of two attempts that connect at the same moment the second closes
        // its socket at once (its metric still says it connected) and leaves.
        const attempt = (target: Target) =>
          Effect.uninterruptibleMask((restore) =>
            Effect.gen(function*() {
              const own = yield* Scope.fork(scope, ExecutionStrategy.sequential)
              const exit = yield* Effect.exit(restore(Scope.extend(connectTcp(target, timeout), own)))
              if (Exit.isSuccess(exit) && !(yield* Ref.getAndSet(claimed, true))) {
                return exit.value
              }
              yield* Scope.close(own, exit)
              return yield* Exit.isSuccess(exit) ? Effect.interrupt : exit
            })
          )
        const attempts = Arr.map(addresses, (resolved) =>
          attempt({
            host: options.host,
            port: options.port,
            address: resolved.address,
            family: resolved.family
          }))
        // When every address failed, this fails with the last error.
        const { connection, start } = yield* staggeredRace(attempts, delay)
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
