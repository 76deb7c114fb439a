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
 * With `proxy`, the TCP connection goes to the proxy (SOCKS5 or HTTP
 * CONNECT), which opens a tunnel to the SMTP server; implicit TLS and
 * STARTTLS then run end to end through the tunnel, verified against the SMTP
 * server's name. The socket metrics then describe the connection to the
 * proxy, and `network.peer.address` is the proxy's IP everywhere: it is the
 * peer of the TCP connection, and the only address the client knows for
 * certain (see docs/telemetry.md).
 *
 * @since 0.1.0
 */
import type { SocketError } from "@effect-smtp/client/SmtpError"
import type { SmtpMetrics } from "@effect-smtp/client/SmtpMetrics"
import { Socket } from "@effect-smtp/client/Socket"
import type { SocketService } from "@effect-smtp/client/Socket"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as internal from "./internal/nodeSocket.js"
import * as proxy from "./internal/proxy/url.js"

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
 * A proxy in front of the SMTP server, in structured form.
 *
 * - `socks5`: SOCKS5 (RFC 1928); the SMTP server's name is resolved here
 *   (with `lookup` and `family` when given) and the proxy is asked for the
 *   first address in the resolver's order.
 * - `socks5h`: SOCKS5, and the proxy resolves the name.
 * - `http`: an HTTP proxy's CONNECT method (RFC 9110 §9.3.6); the proxy
 *   resolves the name.
 *
 * `auth` is RFC 1929 username/password for SOCKS5, HTTP Basic
 * (`Proxy-Authorization`) for `http`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProxyOptions {
  readonly protocol: "socks5" | "socks5h" | "http"
  readonly host: string
  readonly port: number
  readonly auth?: { readonly user: string; readonly password: Redacted.Redacted<string> } | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface NodeSocketOptions {
  /**
   * Connect through a proxy: `socks5://[user:password@]host[:port]` (the SMTP
   * server's name resolved here), `socks5h://...` (resolved by the proxy) or
   * `http://[user:password@]host[:port]` (HTTP CONNECT), with the user and
   * password percent-encoded; the port defaults to 1080 for SOCKS5 and 80
   * for HTTP. Pass the URL as `Redacted` (or the structured `ProxyOptions`,
   * whose password is `Redacted`) to keep the password out of logs. A URL
   * that cannot be used fails every connect with an `InvalidInputError`
   * whose field is "proxy"; a proxy that does not open the tunnel fails it
   * with a `ProxyError`. The TCP connect to the proxy, its handshake and
   * implicit TLS through the tunnel share one connect timeout.
   */
  readonly proxy?: string | Redacted.Redacted<string> | ProxyOptions | undefined
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
  readonly happyEyeballsDelay?: Duration.Input | undefined
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

/**
 * The socket options read through Effect `Config`: `SMTP_PROXY`, when set, is
 * the proxy URL (`socks5://user:password@host:1080`, `socks5h://...`,
 * `http://...`), read as `Redacted`. A URL that cannot be used fails with a
 * `ConfigError` that names the variable (and never repeats its value).
 *
 * @since 0.1.0
 * @category config
 */
export const optionsConfig: Config.Config<NodeSocketOptions> = Config.option(Config.Redacted("SMTP_PROXY")).pipe(
  Config.flatMap((url): Config.Config<NodeSocketOptions> => {
    if (Option.isNone(url)) return Config.succeed({})
    return Result.match(proxy.resolveProxyOption(url.value), {
      onFailure: (error) => Config.fail(new ConfigProvider.SourceError({ message: `SMTP_PROXY ${error.reason}` })),
      onSuccess: (options) => Config.succeed({ proxy: options })
    })
  })
)
