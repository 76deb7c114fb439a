/**
 * Where one connection leads (the host configured, the IP used, the proxy in
 * between), as errors, TLS and the `Connection` name it. Not the client's
 * telemetry `Target`, which is the server as configured.
 */

/** @internal */
export interface Endpoint {
  /** The host name the user configured. */
  readonly host: string
  readonly port: number
  /** The IP this connection uses: the peer of the TCP connection. */
  readonly address: string
  readonly family: 4 | 6
  /**
   * The proxy the connection goes through, once its tunnel is open: `address`
   * is then the proxy's IP, and `host` and `port` the SMTP server's.
   */
  readonly proxy?: { readonly host: string; readonly port: number } | undefined
}

/**
 * `target` once a proxy's tunnel is open: it leads to the SMTP server at
 * `host`:`port` (the name TLS verifies), through the proxy it is connected to.
 *
 * @internal
 */
export const throughProxy = (proxy: Endpoint, host: string, port: number): Endpoint => ({
  host,
  port,
  address: proxy.address,
  family: proxy.family,
  proxy: { host: proxy.host, port: proxy.port }
})

/** @internal */
export const proxyOf = (target: Endpoint): string | undefined =>
  target.proxy === undefined ? undefined : `${target.proxy.host}:${target.proxy.port}`
