/**
 * Compose and send in one call, for code without Effect (needs
 * `@effect-smtp/message`, an optional peer dependency).
 *
 * @since 0.1.0
 */

/**
 * `NodeMail.promiseClient(options).sendMail({ from, to, subject, text, attachments })`.
 *
 * @since 0.1.0
 */
export * as NodeMail from "./NodeMail.js"
