/**
 * Attachments read from files, on Node (`node:fs`): a separate entry point,
 * `@effect-smtp/message/node`, so that the rest of the package
 * runs without Node.
 *
 * ```ts
 * import { SmtpClient } from "@effect-smtp/client"
 * import { MailMessage } from "@effect-smtp/message"
 * import { NodeAttachment } from "@effect-smtp/message/node"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function*() {
 *   const invoice = yield* NodeAttachment.fromPath("./invoice.pdf")
 *   const message = yield* MailMessage.compose({ from: "shop@example.com", to: "alice@example.com", attachments: [invoice] })
 *   return yield* SmtpClient.send(message)
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { SmtpError } from "@effect-smtp/client"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/nodeAttachment.js"
import type { Attachment } from "./MailMessage.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface FromPathOptions {
  /** Defaults to the file's name (the last part of the path). */
  readonly filename?: string | undefined
  /** Defaults to the type the filename's extension suggests. */
  readonly contentType?: string | undefined
  /** Makes the attachment inline, referred to from the HTML as `cid:<contentId>`. */
  readonly contentId?: string | undefined
  /** Bytes read at a time (default 64 KiB; 1 KiB to 16 MiB). */
  readonly chunkSize?: number | undefined
}

/**
 * An attachment whose content is the file at `path`, streamed from disk as
 * the message is sent: one chunk in memory at a time, whatever the file's
 * size, and read afresh each time the message's content runs (a DKIM
 * signature reads it twice, so the file must not change in between).
 *
 * The file is checked first: a path that does not exist, is not a regular
 * file or cannot be read fails with `InvalidInputError` (field
 * `attachments.path`) before the message is composed, so before anything is
 * sent. A read that fails later (the file removed meanwhile) fails the send
 * with the same error, before the end of the message.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPath: (
  path: string,
  options?: FromPathOptions
) => Effect.Effect<Attachment<SmtpError.InvalidInputError>, SmtpError.InvalidInputError> = internal.fromPath
