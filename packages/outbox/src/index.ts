/**
 * @since 0.1.0
 */
export * as SmtpOutbox from "./SmtpOutbox.js"

/**
 * @since 0.1.0
 */
export * as OutboxError from "./OutboxError.js"

/**
 * @since 0.1.0
 */
export * as OutboxMetrics from "./OutboxMetrics.js"
