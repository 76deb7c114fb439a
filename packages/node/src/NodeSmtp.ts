/**
 * The whole client for Node in one Layer: `SmtpClient` over `SmtpProtocol`
 * over `NodeSocket`, recording the documented metrics.
 *
 * @since 0.1.0
 */
import { SmtpClient, SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
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
 * `SMTP_PASSWORD`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config?: Config.Config.Wrap<SmtpClient.Options>
): Layer.Layer<SmtpClient, ConfigError.ConfigError> =>
  SmtpClient.layerConfig(config).pipe(Layer.provide(layerProtocol), Layer.provide(SmtpMetrics.layer))
