/**
 * `Socket.connect` for Node: resolve, then one measured TCP attempt per
 * address, raced with Happy Eyeballs (RFC 8305), then implicit TLS on the
 * winner when asked.
 */
import { InvalidInputError, SocketError, TimeoutError } from "@effect-smtp/client/SmtpError"
import type { ProxyError, TlsError } from "@effect-smtp/client/SmtpError"
import { outcomeOf, SmtpMetrics, type SmtpMetricsService } from "@effect-smtp/client/SmtpMetrics"
import type { Connection, ConnectOptions, SocketService } from "@effect-smtp/client/Socket"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Dns from "node:dns"
import * as Net from "node:net"
import type * as NodeSocket from "../NodeSocket.js"
import type { Endpoint } from "./connection/endpoint.js"
import { NodeConnection } from "./connection/nodeConnection.js"
import { codeOf } from "./connection/tlsError.js"
import { defaultHappyEyeballsDelay, ofFamily, orderAddresses, staggeredRace } from "./happyEyeballs.js"
import { proxyFailure, tunnel } from "./proxy/tunnel.js"
import { resolveProxyOption } from "./proxy/url.js"

type ResolvedAddress = NodeSocket.ResolvedAddress

/** @internal */
export const defaultTimeout: Duration.Duration = Duration.minutes(2)

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
const connectDefect = (target: Endpoint) => (cause: Cause.Cause<unknown>): SocketError =>
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

/** What every connect of one socket service shares. */
interface Dialer {
  readonly metrics: SmtpMetricsService
  readonly options: NodeSocket.NodeSocketOptions
  /** Happy Eyeballs' stagger; infinite when it is off (one address at a time). */
  readonly delay: Duration.Duration
}

/** Every address of `host`, in the resolver's order. */
const lookupAll = (
  { options }: Dialer,
  host: string,
  port: number
): Effect.Effect<ReadonlyArray<ResolvedAddress>, SocketError> => {
  const literal = ipLiteral(host)
  return literal !== undefined
    ? Effect.succeed([literal])
    : options.lookup !== undefined
    ? options.lookup(host)
    : dnsLookup(host, port)
}

/** The addresses to try, in the order to try them. */
const resolve = (
  dialer: Dialer,
  host: string,
  port: number
): Effect.Effect<Arr.NonEmptyReadonlyArray<ResolvedAddress>, SocketError> =>
  Effect.flatMap(lookupAll(dialer, host, port), (addresses) => {
    const { family, happyEyeballs = true } = dialer.options
    const candidates = happyEyeballs ? orderAddresses(addresses, family) : ofFamily(addresses, family)
    return Arr.isReadonlyArrayNonEmpty(candidates)
      ? Effect.succeed(candidates)
      : Effect.fail(noAddress(host, port, addresses))
  })

/** socks5: the SMTP server's first address in the resolver's order (of the pinned family). */
const resolveHere = (dialer: Dialer, host: string, port: number): Effect.Effect<ResolvedAddress, SocketError> =>
  Effect.flatMap(lookupAll(dialer, host, port), (addresses) => {
    const first = ofFamily(addresses, dialer.options.family)[0]
    return first !== undefined ? Effect.succeed(first) : Effect.fail(noAddress(host, port, addresses))
  })

const timedOut = (target: Endpoint, timeout: Duration.Duration) => () =>
  Effect.fail(
    new TimeoutError({ operation: `connect to ${target.host}:${target.port} (${target.address})`, timeout })
  )

/** One TCP attempt, recorded once as the socket.connect metric. */
const connectTcp = (
  { metrics }: Dialer,
  target: Endpoint,
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
  dialer: Dialer,
  host: string,
  port: number,
  timeout: Duration.Duration
): Effect.Effect<Attempt, SocketError | TimeoutError, Scope.Scope> =>
  Effect.gen(function*() {
    const addresses = yield* resolve(dialer, host, port)
    const scope = yield* Effect.scope
    const claimed = yield* Ref.make(false)
    // Each attempt owns a scope of its own that only the winner keeps, so
    // of two attempts that connect at the same moment the second closes
    // its socket at once (its metric still says it connected) and leaves.
    const attempt = (target: Endpoint) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const own = yield* Scope.fork(scope, "sequential")
          const exit = yield* Effect.exit(restore(Scope.provide(connectTcp(dialer, target, timeout), own)))
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
    return yield* staggeredRace(attempts, dialer.delay)
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

const connectDirect = (dialer: Dialer) =>
(
  options: ConnectOptions
): Effect.Effect<Connection, SocketError | TlsError | TimeoutError, Scope.Scope> =>
  Effect.gen(function*() {
    const timeout = Duration.fromInputUnsafe(options.timeout ?? defaultTimeout)
    const attempt = yield* connectAny(dialer, options.host, options.port, timeout)
    return yield* secure(attempt, options, timeout)
  })

/**
 * TCP to the proxy (measured as socket.connect, Happy Eyeballs across the
 * proxy's addresses), the proxy's handshake, then implicit TLS through
 * the tunnel; all three share one connect timeout.
 */
const connectVia = (dialer: Dialer, proxy: NodeSocket.ProxyOptions) =>
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
      ? (yield* resolveHere(dialer, options.host, options.port)).address
      : options.host
    const attempt = yield* connectAny(dialer, proxy.host, proxy.port, timeout).pipe(
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

/** @internal */
export const make = (socketOptions: NodeSocket.NodeSocketOptions): Effect.Effect<SocketService, never, SmtpMetrics> =>
  Effect.map(SmtpMetrics, (metrics) => {
    const dialer: Dialer = {
      metrics,
      options: socketOptions,
      delay: (socketOptions.happyEyeballs ?? true)
        ? Duration.fromInputUnsafe(socketOptions.happyEyeballsDelay ?? defaultHappyEyeballsDelay)
        : Duration.infinity
    }
    const proxyOption = socketOptions.proxy === undefined ? undefined : resolveProxyOption(socketOptions.proxy)
    const connect = proxyOption === undefined
      ? connectDirect(dialer)
      : Result.isFailure(proxyOption)
      // An unusable proxy fails every connect: the layer itself cannot fail.
      ? () => Effect.fail(proxyOption.failure)
      : connectVia(dialer, proxyOption.success)

    return { connect }
  })
