import * as Effect from "effect/Effect"
import { SmtpCommandError, type SmtpError } from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"
import type { Accepted } from "./envelope.js"
import { commandError, recipientResult } from "./failure.js"
import { type Reply, text } from "./reply.js"
import type { SessionState } from "./sessionState.js"
import type { Wait } from "./wire.js"

/**
 * The reply to the end of a message, and what it makes of the send: one
 * reply over SMTP; over LMTP (RFC 2033 §4.2) one per accepted recipient, in
 * order, so some may be delivered and others not. The server's queue ID is
 * read from the reply's text.
 */

/**
 * The replies to the end of a message: one, or for LMTP one per accepted
 * recipient (a pipelined group of replies, each within the wait).
 *
 * @internal
 */
export const read = (state: SessionState, wait: Wait, recipients: number): Effect.Effect<Array<Reply>, SmtpError> =>
  !state.lmtp || recipients === 1
    ? Effect.map(state.wire.reply(wait), (final) => [final])
    : state.wire.replies(Array.from({ length: recipients }, () => wait))

/**
 * The result of a send from its final replies, or the refusal.
 *
 * @internal
 */
export const outcome = (
  state: SessionState,
  command: "DATA" | "BDAT",
  finals: ReadonlyArray<Reply>,
  envelope: Accepted,
  bytesSent: number,
  timings: SmtpProtocol.TransactionResult["timings"]
): Effect.Effect<SmtpProtocol.TransactionResult, SmtpError> => {
  if (!state.lmtp) {
    const final = finals[0]
    return final.code === 250
      ? Effect.succeed(result(final, envelope, bytesSent, timings))
      : Effect.fail(commandError(command, final))
  }
  const deliveries = envelope.accepted.map((recipient, i) => recipientResult(recipient, finals[i]))
  const delivered = deliveries.filter((d) => d.statusCode === 250 || d.statusCode === 251)
  const failed = deliveries.filter((d) => d.statusCode !== 250 && d.statusCode !== 251)
  const rejected = [...envelope.rejected, ...failed]
  if (delivered.length === 0) {
    const first = failed[0]
    return Effect.fail(
      new SmtpCommandError({
        command,
        statusCode: first.statusCode,
        enhancedStatusCode: first.enhancedStatusCode,
        serverMessage: first.message,
        recipient: envelope.recipients.length === 1 ? first.recipient : undefined,
        rejectedRecipients: rejected
      })
    )
  }
  const final = finals[deliveries.indexOf(delivered[0])]
  return Effect.succeed({
    ...result(final, { ...envelope, accepted: delivered.map((d) => d.recipient), rejected }, bytesSent, timings),
    deliveries
  })
}

/** The result of a message the server took, from its final reply. */
const result = (
  final: Reply,
  envelope: Accepted,
  bytesSent: number,
  timings: SmtpProtocol.TransactionResult["timings"]
): SmtpProtocol.TransactionResult => {
  const response = text(final)
  return {
    accepted: envelope.accepted,
    rejected: envelope.rejected,
    recipients: envelope.recipients,
    response: `${final.code}${final.enhancedCode ? ` ${final.enhancedCode}` : ""} ${response}`,
    statusCode: final.code,
    enhancedStatusCode: final.enhancedCode,
    queueId: queueIdOf(response),
    bytesSent,
    timings
  }
}

/**
 * The server's queue ID, from the common reply forms: Postfix and many others
 * "queued as 4XyZ", Exim "id=1kXyZ-...", Sendmail "4ABC123 Message accepted".
 */
const queueIdOf = (reply: string): string | undefined =>
  /queued as ([^\s;,)]+)/i.exec(reply)?.[1] ??
    /\bid=([^\s;,)]+)/i.exec(reply)?.[1] ??
    /^([A-Za-z0-9]{8,})\s+Message accepted/i.exec(reply)?.[1]
