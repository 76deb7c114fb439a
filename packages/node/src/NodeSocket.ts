/**
 * The Node transport for effect-smtp: DNS (`node:dns`), TCP (`node:net`),
 * implicit TLS and the STARTTLS upgrade (`node:tls`), as the `Socket` service
 * of `@effect-smtp/client`.
 *
 * Every TCP attempt is reported to `SmtpMetrics.socketConnect`, one event per
 * resolved address tried, timed with Effect's `Clock`.
 *
 * @since 0.1.0
 */
import type { SocketError } from "@effect-smtp/client/SmtpError"
import type { SmtpMetrics } from "@effect-smtp/client/SmtpMetrics"
import { Socket } from "@effect-smtp/client/Socket"
import type { SocketService } from "@effect-smtp/client/Socket"
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
   * Resolves a host name to the addresses to try, in order, instead of
   * `node:dns` `lookup(host, { all: true })`. Not called for IP literals.
   * Useful for tests (a name with a refusing address first) and for custom
   * resolution; fail with a `SocketError` whose operation is "lookup".
   */
  readonly lookup?: ((host: string) => Effect.Effect<ReadonlyArray<ResolvedAddress>, SocketError>) | undefined
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
 * `Socket` with custom options, e.g. an injected `lookup`.
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
