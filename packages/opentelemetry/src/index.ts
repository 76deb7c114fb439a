/**
 * effect-smtp's MailKit-compatible metrics on the OpenTelemetry Meter API.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as OtelSmtpMetrics from "./OtelSmtpMetrics.js"

/**
 * @since 0.2.0
 */
export * as PrometheusNaming from "./PrometheusNaming.js"
