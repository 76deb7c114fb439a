/**
 * The Node transport for effect-smtp: DNS (`node:dns`), TCP (`node:net`),
 * implicit TLS and the STARTTLS upgrade (`node:tls`), as the `Socket` service
 * of `@effect-smtp/client`.
 *
 * The resolved addresses are tried with Happy Eyeballs (RFC 8305): IPv6 and
 * IPv4 interleaved, starting with IPv6; each attempt runs alone for 250 ms
 * before the next starts beside it (at once when it fails); the first to
 * connect wins and the others are interrupted and their sockets destroyed.
 * Implicit TLS runs on the winner only.
 *
 * Every TCP attempt is reported to `SmtpMetrics.socketConnect`, one event per
 * resolved address tried, timed with Effect's `Clock`: the winner as a
 * success, failed attempts as failures, the attempts cut off by the winner as
 * interrupted (`cancelled`).
 *
 * @since 0.1.0
 */
import type { SocketError } from "@effect-smtp/client/SmtpError"
import type { SmtpMetrics } from "@effect-smtp/client/SmtpMetrics"
import { Socket } from "@effect-smtp/client/Socket"
import type { SocketService } from "@effect-smtp/client/Socket"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as internal from "./internal/nodeSocket.js"

/**
 * One address a host name resolved to.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolvedAddress {
  /** The IP, e.g. `127.0.0.1` or `::1`. */
  readonly address: string
  readonly family: 4 | 6
}

/**
 * @since 0.1.0
 * @category models
 */
export interface NodeSocketOptions {
  /**
   * Resolves a host name to the addresses to try, in order of preference,
   * instead of `node:dns` `lookup(host, { all: true })`. Not called for IP
   * literals. Happy Eyeballs interleaves the families but keeps this order
   * within each. Useful for tests (a name with a refusing address first) and
   * for custom resolution; fail with a `SocketError` whose operation is
   * "lookup".
   */
  readonly lookup?: ((host: string) => Effect.Effect<ReadonlyArray<ResolvedAddress>, SocketError>) | undefined
  /**
   * Only addresses of this family are tried. A name (or IP literal) without
   * one fails as a `SocketError` "lookup" with code `ENODATA`. By default
   * both families are tried.
   */
  readonly family?: 4 | 6 | undefined
  /**
   * RFC 8305's "Connection Attempt Delay": how long an attempt runs alone
   * before the next address is tried beside it. Default 250 ms; the RFC
   * recommends no less than 100 ms. `0` starts every attempt at once, still
   * in order. Each attempt keeps its own connect timeout.
   */
  readonly happyEyeballsDelay?: Duration.DurationInput | undefined
  /**
   * `false`: one attempt at a time, in the resolver's order, the next only
   * when one fails (or times out). Default `true`.
   */
  readonly happyEyeballs?: boolean | undefined
}

/**
 * The `Socket` service over node:net / node:tls, resolving with node:dns.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith = (options: NodeSocketOptions): Effect.Effect<SocketService, never, SmtpMetrics> =>
  internal.make(options)

/**
 * The `Socket` service over node:net / node:tls, resolving with node:dns.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<SocketService, never, SmtpMetrics> = makeWith({})

/**
 * `Socket` with custom options: an injected `lookup`, a pinned `family`, the
 * Happy Eyeballs delay or sequential attempts.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: NodeSocketOptions): Layer.Layer<Socket, never, SmtpMetrics> =>
  Layer.effect(Socket, makeWith(options))

/**
 * `Socket` over node:net / node:tls with system DNS.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Socket, never, SmtpMetrics> = layerWith({})
