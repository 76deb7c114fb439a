/**
 * effect-smtp's message composer: RFC 5322 messages with text, HTML and
 * attachments, as a `Stream<Uint8Array>` for `SmtpClient.send`; DKIM
 * signing (`Dkim`), and one-click unsubscription (`listUnsubscribe`).
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as MailMessage from "./MailMessage.js"

/**
 * @since 0.1.0
 */
export * as Dkim from "./Dkim.js"

/**
 * @since 0.1.0
 */
export * as DkimCrypto from "./DkimCrypto.js"

/**
 * @since 0.1.0
 */
export * as DkimError from "./DkimError.js"
