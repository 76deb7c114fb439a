/**
 * Where the documentation's blocks send while a test runs: their
 * `NodeSmtp.layer({ host: "smtp.example.com", ... })` is called as written,
 * and the options are redirected to a server on loopback (host, port, the
 * test CA, and a security mode only where the local server needs another).
 * Every other option of the block (auth, pool, retry, rateLimit, protocol,
 * partialDelivery...) stays as the block wrote it.
 */
import type { SmtpClient } from "@effect-smtp/client"
import type { NodeSmtp, NodeSocket } from "@effect-smtp/node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"

export interface Target {
  readonly port: number
  readonly ca: string
  readonly security?: SmtpClient.Options["security"]
  readonly proxy?: Redacted.Redacted<string> | undefined
}

/** The current redirection; none: the block's options go through unchanged. */
export const redirect: { current: Target | undefined; sqlite: string | undefined } = {
  current: undefined,
  sqlite: undefined
}

/** Every options object the blocks passed, as written, for assertions. */
export const seen: Array<SmtpClient.Options> = []

export const swapOptions = (options: SmtpClient.Options): SmtpClient.Options => {
  seen.push(options)
  const target = redirect.current
  if (target === undefined) return options
  return {
    ...options,
    host: "localhost",
    port: target.port,
    tls: { ...options.tls, ca: target.ca },
    // The security the block's port implied (implicit TLS on 465) stays.
    security: target.security ?? options.security ?? (options.port === 465 ? "tls" : undefined)
  }
}

export const swapSocket = (
  options: NodeSocket.NodeSocketOptions | undefined
): NodeSocket.NodeSocketOptions | undefined => {
  const target = redirect.current
  if (target === undefined || options?.proxy === undefined) return options
  return { ...options, proxy: target.proxy }
}

/**
 * The blocks build their layers when their module loads, before a test
 * points them anywhere: the redirection is read when the layer is built.
 */
export const swapNodeSmtp = (original: typeof NodeSmtp): typeof NodeSmtp => ({
  ...original,
  layer: (options, socketOptions) =>
    Layer.unwrap(Effect.sync(() => original.layer(swapOptions(options), swapSocket(socketOptions)))),
  layerWithMetrics: (options, socketOptions) =>
    Layer.unwrap(Effect.sync(() => original.layerWithMetrics(swapOptions(options), swapSocket(socketOptions)))),
  promiseClient: (options, socketOptions) => original.promiseClient(swapOptions(options), swapSocket(socketOptions))
})
