/**
 * The whole client for Node in one Layer: `SmtpClient` over `SmtpProtocol`
 * over `NodeSocket`, recording the documented metrics.
 *
 * @since 0.1.0
 */
import { SmtpClient, SmtpConfig, SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import type * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { readCaFile } from "./internal/caFile.js"
import { makeRunner } from "./internal/promise.js"
import * as NodeSocket from "./NodeSocket.js"

/**
 * `SmtpProtocol` over the Node socket with custom socket options (e.g.
 * `{ family: 4 }`), which records its connect attempts.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerProtocolWith = (
  socketOptions: NodeSocket.NodeSocketOptions
): Layer.Layer<SmtpProtocol, never, SmtpMetrics> =>
  SmtpProtocol.layer.pipe(Layer.provide(NodeSocket.layerWith(socketOptions)))

/**
 * `SmtpProtocol` over the Node socket, which records its connect attempts.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerProtocol: Layer.Layer<SmtpProtocol, never, SmtpMetrics> = layerProtocolWith({})

/**
 * The client with a metrics backend of your choice, e.g.
 * `OtelSmtpMetrics.layer()` from `@effect-smtp/opentelemetry`. `socketOptions`
 * pin an address family or tune Happy Eyeballs (see `NodeSocket`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWithMetrics = (
  options: SmtpClient.Options,
  socketOptions: NodeSocket.NodeSocketOptions = {}
): Layer.Layer<SmtpClient, never, SmtpMetrics> =>
  SmtpClient.layer(options).pipe(Layer.provide(layerProtocolWith(socketOptions)))

/**
 * The client, recording metrics with Effect's `Metric` (export them with
 * `@effect/opentelemetry`). `socketOptions` pin an address family or tune
 * Happy Eyeballs (see `NodeSocket`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: SmtpClient.Options,
  socketOptions: NodeSocket.NodeSocketOptions = {}
): Layer.Layer<SmtpClient> => layerWithMetrics(options, socketOptions).pipe(Layer.provide(SmtpMetrics.layer))

/**
 * Like `layer`, with the options read through Effect `Config`: by default
 * `SMTP_URL`, or `SMTP_HOST`, `SMTP_PORT`, `SMTP_SECURITY`, `SMTP_USER`,
 * `SMTP_PASSWORD`, and `SMTP_CA` (PEM text or the path of a PEM file) for a
 * private CA; and the socket options from `socketConfig`, by default
 * `SMTP_PROXY` (see `NodeSocket.optionsConfig`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Wrap<SmtpClient.Options> = SmtpConfig.optionsWith({ readCaFile }),
  socketConfig: Config.Config<NodeSocket.NodeSocketOptions> = NodeSocket.optionsConfig
): Layer.Layer<SmtpClient, Config.ConfigError> =>
  Layer.unwrap(
    Effect.map(socketConfig, (socketOptions) =>
      SmtpClient.layerConfig(config).pipe(
        Layer.provide(layerProtocolWith(socketOptions)),
        Layer.provide(SmtpMetrics.layer)
      ))
  )

/**
 * A `PromiseClient` was used after `close()`: nothing was sent. Make a new
 * client to send again.
 *
 * @since 1.0.0
 * @category errors
 */
export { ClientClosedError } from "./internal/promise.js"

/**
 * The client for code that does not use Effect: promises, and an
 * `AbortSignal` per send that interrupts it at any step (the connection is
 * then closed, never reused). Failures reject with the typed `SmtpError`;
 * every `send` or `verify` after `close()` (once called) rejects with `ClientClosedError`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseClient {
  readonly send: (
    mail: SmtpClient.Sendable<never>,
    options?: { readonly signal?: AbortSignal | undefined }
  ) => Promise<SmtpClient.SendResult>
  /**
   * Checks the configuration without sending: connects, secures the
   * connection (implicit TLS or STARTTLS, as `security` says), authenticates
   * when `auth` is given, then QUITs. Resolves when all of that worked;
   * rejects with the typed `SmtpError` of the step that failed.
   */
  readonly verify: (options?: { readonly signal?: AbortSignal | undefined }) => Promise<void>
  /** Closes pooled connections (QUIT) and releases everything. */
  readonly close: () => Promise<void>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const promiseClient = (
  options: SmtpClient.Options,
  socketOptions?: NodeSocket.NodeSocketOptions
): PromiseClient => makeRunner(ManagedRuntime.make(layer(options, socketOptions))).client
