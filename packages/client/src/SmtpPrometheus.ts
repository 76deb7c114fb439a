/**
 * Prometheus names as a MailKit application exports them, for the exporters
 * that do not add units by themselves.
 *
 * The OpenTelemetry Prometheus compatibility spec says an exporter SHOULD add
 * the unit to a metric's name as a word (`ms` is `milliseconds`, `s` is
 * `seconds`; annotations in braces are dropped) before the type suffix, and
 * `_total` to a monotonic counter. .NET's exporter and the OpenTelemetry
 * Collector do, so a MailKit application's series are
 * `mailkit_net_smtp_client_send_duration_milliseconds_bucket` and
 * `mailkit_net_smtp_client_send_count_total`. Effect's own exporter
 * (`effect/observability/PrometheusMetrics`) adds neither: give it
 * `metricNameMapper` and its page carries MailKit's names, which the
 * dashboards and alerts built for MailKit read:
 *
 * ```ts
 * import { SmtpPrometheus } from "@effect-smtp/client"
 * import { PrometheusMetrics } from "effect/observability"
 *
 * export const MetricsRoute = PrometheusMetrics.layerHttp({ metricNameMapper: SmtpPrometheus.metricNameMapper })
 * ```
 *
 * @since 1.0.0
 */
import * as internal from "./internal/prometheusNames.js"

/**
 * The word a unit adds to a metric's name: `"milliseconds"` for `ms`,
 * `"seconds"` for `s`, `""` for a unit that is only an annotation
 * (`{operation}`) or `1`; `By/s` is `bytes_per_second`.
 *
 * @since 1.0.0
 * @category naming
 */
export const unitSuffix: (unit: string) => string = internal.unitSuffix

/**
 * A metric's name with its unit word appended, unless the name already ends
 * with it, as the spec's exporters write it before the type suffix.
 *
 * @since 1.0.0
 * @category naming
 */
export const withUnit: (name: string, unit: string) => string = internal.withUnit

/**
 * The full Prometheus name of a metric per the compatibility spec: dots (and
 * anything else Prometheus refuses) to underscores, the unit word, and
 * `_total` for a monotonic counter. A histogram's series add `_bucket`,
 * `_sum` and `_count` to it.
 *
 * @since 1.0.0
 * @category naming
 */
export const prometheusName: (name: string, unit: string, monotonicCounter: boolean) => string = internal.prometheusName

/**
 * For `PrometheusMetrics.format` / `layerHttp` (`effect/observability`): each
 * instrument of either profile by the name a MailKit application exports
 * (`prometheusName` of its name, unit and kind); any other metric unchanged.
 *
 * @since 1.0.0
 * @category naming
 */
export const metricNameMapper: (name: string) => string = internal.metricNameMapper
