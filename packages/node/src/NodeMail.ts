/**
 * Compose and send in one call, for code without Effect: the promise client
 * of `NodeSmtp.promiseClient` with `sendMail(message)`, which composes the
 * message with `@effect-smtp/message` (attachments from file paths
 * included) and sends it.
 *
 * A separate entry point, `@effect-smtp/node/mail`, because it needs
 * `@effect-smtp/message` (an optional peer dependency of this package):
 * install it to use this module; the rest of the package does without it.
 *
 * @since 0.1.0
 */
import type { SmtpClient, SmtpError } from "@effect-smtp/client"
import type { DkimError, MailMessage } from "@effect-smtp/message"
import type { NodeAttachment } from "@effect-smtp/message/node"
import * as internal from "./internal/nodeMail.js"
import type { PromiseClient } from "./NodeSmtp.js"
import type * as NodeSocket from "./NodeSocket.js"

/**
 * An attachment read from a file: streamed from disk as the message is sent
 * (see `NodeAttachment.fromPath`).
 *
 * @since 0.1.0
 * @category models
 */
export interface FileAttachment extends NodeAttachment.FromPathOptions {
  readonly path: string
}

/**
 * The message `sendMail` composes: `MailMessage.MailMessage`'s fields, with
 * attachments given as content or as a file path.
 *
 * @since 0.1.0
 * @category models
 */
export interface MailToSend extends Omit<MailMessage.MailMessage, "attachments"> {
  readonly attachments?: ReadonlyArray<MailMessage.Attachment | FileAttachment> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PromiseMailClient extends PromiseClient {
  /**
   * Composes the message and sends it. Rejects, before anything is sent,
   * with `InvalidInputError` for bad input (a malformed address, a file that
   * cannot be read: field `attachments.path`, ...), and otherwise with the
   * typed error of the send (`SmtpError`, or a `DkimError` with `dkim`).
   */
  readonly sendMail: (
    message: MailToSend,
    options?: { readonly signal?: AbortSignal | undefined }
  ) => Promise<SmtpClient.SendResult>
}

/**
 * The promise client with `sendMail`; `send`, `verify` and `close` are those
 * of `NodeSmtp.promiseClient`, on the same connections.
 *
 * @since 0.1.0
 * @category constructors
 */
export const promiseClient: (
  options: SmtpClient.Options,
  socketOptions?: NodeSocket.NodeSocketOptions
) => PromiseMailClient = internal.promiseClient

/**
 * The errors `sendMail` rejects with.
 *
 * @since 0.1.0
 * @category models
 */
export type SendMailError = SmtpError.SmtpError | DkimError.DkimError
