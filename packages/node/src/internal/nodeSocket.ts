/**
 * `Socket.connect` for Node: resolve, then one measured TCP attempt per
 * address, raced with Happy Eyeballs (RFC 8305), then implicit TLS on the
 * winner when asked.
 */
import { InvalidInputError, SocketError, TimeoutError } from "@effect-smtp/client/SmtpError"
import type { ProxyError, TlsError } from "@effect-smtp/client/SmtpError"
import { outcomeOf, SmtpMetrics } from "@effect-smtp/client/SmtpMetrics"
import type { Connection, ConnectOptions, SocketService } from "@effect-smtp/client/Socket"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Dns from "node:dns"
import * as Net from "node:net"
import type * as NodeSocket from "../NodeSocket.js"
import { NodeConnection } from "./connection/nodeConnection.js"
import type { Target } from "./connection/target.js"
import { codeOf } from "./connection/tlsError.js"
import { proxyFailure, tunnel } from "./proxy/tunnel.js"
import { resolveProxyOption } from "./proxy/url.js"

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
  const candidates = ofFamily(addresses, family)
  const v6 = Arr.filter(candidates, (address) => address.family === 6)
  const v4 = Arr.filter(candidates, (address) => address.family !== 6)
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
  return Cause.hasDies(exit.cause) ? Effect.andThen(Fiber.interrupt(other), exit) : Fiber.join(other)
}

/**
 * Runs `self` and `that` in fibers of their own; `settle` decides the race
 * from the first exit and the other fiber, which may still be running.
 * Interrupting the race interrupts (and awaits) both. Effect 4 has no
 * `raceWith`, and its `raceAll` would merge the failures and let a defect
 * wait for the other attempts, where `settle` wants the last failure and a
 * defect to end the race.
 */
const raceWith = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  that: Effect.Effect<A, E, R>,
  settle: (exit: Exit.Exit<A, E>, other: Fiber.Fiber<A, E>) => Effect.Effect<A, E>
): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const left = yield* Effect.forkChild(self)
      const right = yield* Effect.forkChild(that)
      const [exit, other] = yield* restore(
        Effect.raceFirst(
          Effect.map(Fiber.await(left), (exit) => [exit, right] as const),
          Effect.map(Fiber.await(right), (exit) => [exit, left] as const)
        )
      ).pipe(Effect.onInterrupt(() => Fiber.interruptAll([left, right])))
      return yield* restore(settle(exit, other)).pipe(Effect.onInterrupt(() => Fiber.interrupt(other)))
    })
  )

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
  if (!Arr.isReadonlyArrayNonEmpty(rest)) {
    return first
  }
  return Effect.flatMap(Deferred.make<void>(), (failed) => {
    const head = Effect.tapCause(first, () => Deferred.succeed(failed, undefined))
    const headFailed = Deferred.await(failed)
    const turn = Duration.isFinite(delay) ? Effect.race(Effect.sleep(delay), headFailed) : headFailed
    return raceWith(head, Effect.andThen(turn, staggeredRace(rest, delay)), settle)
  })
}

const ipLiteral = (host: string): ResolvedAddress | undefined => {
  const family = Net.isIP(host)
  return family === 4 ? { address: host, family: 4 } : family === 6 ? { address: host, family: 6 } : undefined
}

const dnsLookup = (host: string, port: number): Effect.Effect<ReadonlyArray<ResolvedAddress>, SocketError> =>
  Effect.callback<ReadonlyArray<ResolvedAddress>, SocketError>((resume) => {
    // getaddrinfo cannot be cancelled; an interrupted lookup's answer is ignored.
    Dns.lookup(host, { all: true }, (error, addresses) => {
      if (error !== null) {
        resume(Effect.fail(new SocketError({ operation: "lookup", host, port, code: codeOf(error), cause: error })))
      } else {
        resume(Effect.succeed(addresses.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }))))
      }
    })
  })

/** ENODATA: the name exists, but has no address of the pinned family. */
const noAddress = (host: string, port: number, addresses: ReadonlyArray<ResolvedAddress>): SocketError =>
  new SocketError({ operation: "lookup", host, port, code: addresses.length > 0 ? "ENODATA" : undefined })

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
      ? Duration.fromInputUnsafe(socketOptions.happyEyeballsDelay ?? defaultHappyEyeballsDelay)
      : Duration.infinity

    /** Every address of `host`, in the resolver's order. */
    const lookupAll = (host: string, port: number): Effect.Effect<ReadonlyArray<ResolvedAddress>, SocketError> => {
      const literal = ipLiteral(host)
      return literal !== undefined
        ? Effect.succeed([literal])
        : lookup !== undefined
        ? lookup(host)
        : dnsLookup(host, port)
    }

    /** The addresses to try, in the order to try them. */
    const resolve = (
      host: string,
      port: number
    ): Effect.Effect<Arr.NonEmptyReadonlyArray<ResolvedAddress>, SocketError> =>
      Effect.flatMap(lookupAll(host, port), (addresses) => {
        const candidates = happyEyeballs ? orderAddresses(addresses, family) : ofFamily(addresses, family)
        return Arr.isReadonlyArrayNonEmpty(candidates)
          ? Effect.succeed(candidates)
          : Effect.fail(noAddress(host, port, addresses))
      })

    const timedOut = (target: Target, timeout: Duration.Duration) => () =>
      Effect.fail(
        new TimeoutError({ operation: `connect to ${target.host}:${target.port} (${target.address})`, timeout })
      )

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
          Effect.timeoutOrElse({ duration: timeout, orElse: timedOut(target, timeout) }),
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

    /** Resolves `host` and races a measured TCP attempt per address (RFC 8305). */
    const connectAny = (
      host: string,
      port: number,
      timeout: Duration.Duration
    ): Effect.Effect<Attempt, SocketError | TimeoutError, Scope.Scope> =>
      Effect.gen(function*() {
        const addresses = yield* resolve(host, port)
        const scope = yield* Effect.scope
        const claimed = yield* Ref.make(false)
        // Each attempt owns a scope of its own that only the winner keeps, so
        // of two attempts that connect at the same moment the second closes
        // its socket at once (its metric still says it connected) and leaves.
        const attempt = (target: Target) =>
          Effect.uninterruptibleMask((restore) =>
            Effect.gen(function*() {
              const own = yield* Scope.fork(scope, "sequential")
              const exit = yield* Effect.exit(restore(Scope.provide(connectTcp(target, timeout), own)))
              if (Exit.isSuccess(exit) && !(yield* Ref.getAndSet(claimed, true))) {
                return exit.value
              }
              yield* Scope.close(own, exit)
              return yield* Exit.isSuccess(exit) ? Effect.interrupt : exit
            })
          )
        const attempts = Arr.map(addresses, (resolved) =>
          attempt({ host, port, address: resolved.address, family: resolved.family }))
        // When every address failed, this fails with the last error.
        return yield* staggeredRace(attempts, delay)
      })

    /**
     * Implicit TLS when asked. Not part of the TCP metric, but part of the
     * attempt: it gets what is left of the same timeout. A certificate or
     * handshake failure is about the server, not the address, so other
     * addresses are not tried.
     */
    const secure = (
      { connection, start }: Attempt,
      options: ConnectOptions,
      timeout: Duration.Duration
    ): Effect.Effect<Connection, TlsError | TimeoutError> =>
      Effect.gen(function*() {
        if (options.tls !== undefined) {
          const elapsed = (yield* Clock.currentTimeNanos) - start
          yield* connection.startTls(options.tls).pipe(
            Effect.timeoutOrElse({
              duration: remaining(timeout, elapsed),
              orElse: timedOut(connection.target, timeout)
            })
          )
        }
        return connection.open()
      })

    const connectDirect = (
      options: ConnectOptions
    ): Effect.Effect<Connection, SocketError | TlsError | TimeoutError, Scope.Scope> =>
      Effect.gen(function*() {
        const timeout = Duration.fromInputUnsafe(options.timeout ?? defaultTimeout)
        const attempt = yield* connectAny(options.host, options.port, timeout)
        return yield* secure(attempt, options, timeout)
      })

    /**
     * TCP to the proxy (measured as socket.connect, Happy Eyeballs across the
     * proxy's addresses), the proxy's handshake, then implicit TLS through
     * the tunnel; all three share one connect timeout.
     */
    const connectVia = (proxy: NodeSocket.ProxyOptions) =>
    (
      options: ConnectOptions
    ): Effect.Effect<Connection, SocketError | ProxyError | TlsError | TimeoutError | InvalidInputError, Scope.Scope> =>
      Effect.gen(function*() {
        const timeout = Duration.fromInputUnsafe(options.timeout ?? defaultTimeout)
        // The host goes into the proxy's request: no line breaks, no spaces.
        if (/[\s\u0000-\u001f\u007f]/.test(options.host)) {
          return yield* new InvalidInputError({
            field: "host",
            reason: "contains a space or control character, which a proxy request cannot carry"
          })
        }
        const fail = proxyFailure(proxy, options)
        // socks5 resolves the SMTP server's name here, before the proxy is
        // contacted: a name that does not resolve is the server's problem.
        const address = proxy.protocol === "socks5"
          ? (yield* resolveHere(options.host, options.port)).address
          : options.host
        const attempt = yield* connectAny(proxy.host, proxy.port, timeout).pipe(
          Effect.mapError((error) =>
            error._tag === "TimeoutError"
              ? fail("Timeout", { timeout, detail: "no TCP connection to the proxy", cause: error })
              : fail("Unreachable", { code: error.code, cause: error })
          )
        )
        const { connection, start } = attempt
        connection.beginReading()
        const elapsed = (yield* Clock.currentTimeNanos) - start
        yield* tunnel(connection.channel, proxy, { host: options.host, address, port: options.port }).pipe(
          Effect.timeoutOrElse({
            duration: remaining(timeout, elapsed),
            orElse: () =>
              Effect.fail(fail("Timeout", { timeout, detail: "the proxy accepted the connection and did not answer" }))
          })
        )
        connection.tunnelled(options.host, options.port)
        return yield* secure(attempt, options, timeout)
      })

    /** socks5: the SMTP server's first address in the resolver's order (of the pinned family). */
    const resolveHere = (host: string, port: number): Effect.Effect<ResolvedAddress, SocketError> =>
      Effect.flatMap(lookupAll(host, port), (addresses) => {
        const first = ofFamily(addresses, family)[0]
        return first !== undefined ? Effect.succeed(first) : Effect.fail(noAddress(host, port, addresses))
      })

    const proxyOption = socketOptions.proxy === undefined ? undefined : resolveProxyOption(socketOptions.proxy)
    const connect = proxyOption === undefined
      ? connectDirect
      : Result.isFailure(proxyOption)
      // An unusable proxy fails every connect: the layer itself cannot fail.
      ? () => Effect.fail(proxyOption.failure)
      : connectVia(proxyOption.success)

    return { connect }
  })
