import { SmtpClient } from "@effect-smtp/client"
import type { SmtpError } from "@effect-smtp/client"
import type { MailMessage as Message } from "@effect-smtp/message"
import { MailMessage } from "@effect-smtp/message"
import { NodeAttachment } from "@effect-smtp/message/node"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { FileAttachment, MailToSend, PromiseMailClient } from "../NodeMail.js"
import { layer } from "../NodeSmtp.js"
import type * as NodeSocket from "../NodeSocket.js"
import { makeRunner } from "./promise.js"

const isFile = (attachment: Message.Attachment | FileAttachment): attachment is FileAttachment =>
  "path" in attachment && typeof attachment.path === "string"

/** Files are checked (NodeAttachment.fromPath) before the message is composed. */
const compose = (mail: MailToSend) =>
  Effect.gen(function*() {
    const attachments = yield* Effect.forEach(mail.attachments ?? [], (attachment) =>
      isFile(attachment)
        ? NodeAttachment.fromPath(attachment.path, attachment)
        : Effect.succeed<Message.Attachment<SmtpError.InvalidInputError>>(attachment))
    return yield* MailMessage.compose({ ...mail, attachments })
  })

/** @internal */
export const promiseClient = (
  options: SmtpClient.Options,
  socketOptions?: NodeSocket.NodeSocketOptions
): PromiseMailClient => {
  // One runtime for both: sendMail and send share the pool and rate limit.
  const { client, run } = makeRunner(ManagedRuntime.make(layer(options, socketOptions)))
  return {
    ...client,
    sendMail: (mail, sendOptions) =>
      run("sendMail", Effect.flatMap(compose(mail), (composed) => SmtpClient.send(composed)), sendOptions?.signal)
  }
}
