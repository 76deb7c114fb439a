/**
 * The outbox's instruments, as Effect `Metric`s under the project's own
 * names (MailKit's documented instruments, which every send still records
 * through `SmtpMetrics`, are untouched). Exported by whatever exports Effect
 * metrics, e.g. `@effect/opentelemetry`'s `NodeSdk`.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"

/**
 * Messages in the outbox by state (`state`: Pending, Sent, Failed,
 * Unknown), refreshed from the database every `metricsInterval`: every
 * runner reports the same, whole-outbox figure.
 *
 * @since 0.1.0
 * @category metrics
 */
export const messages = Metric.gauge("effect_smtp.outbox.messages", {
  description: "Messages in the outbox, by state (attribute state)."
})

/**
 * Seconds since the oldest pending message was enqueued (0 when none is
 * pending): a queue that stopped moving shows here first.
 *
 * @since 0.1.0
 * @category metrics
 */
export const oldestPendingAge = Metric.gauge("effect_smtp.outbox.oldest_pending.age", {
  description: "Seconds since the oldest pending message was enqueued."
})

/**
 * Attempts a message took, recorded when it ends (attribute `state`: Sent,
 * Failed or Unknown).
 *
 * @since 0.1.0
 * @category metrics
 */
export const attempts = Metric.histogram("effect_smtp.outbox.attempts", {
  description: "Send attempts per message, recorded when the message ends (attribute state).",
  boundaries: Metric.boundariesFromIterable([1, 2, 3, 4, 5, 6, 8, 10, 15, 20])
})

/**
 * Seconds an attempt waited before sending, for the shared rate limit
 * (attribute `reason`: "rate_limit") or the shared pause after a "too many"
 * reply ("pause"). Only waits are recorded; its count is the number of waits.
 *
 * @since 0.1.0
 * @category metrics
 */
export const waits = Metric.histogram("effect_smtp.outbox.wait.duration", {
  description: "Seconds an attempt waited for the shared rate limit or pause (attribute reason).",
  boundaries: Metric.exponentialBoundaries({ start: 0.01, factor: 2, count: 16 })
})
