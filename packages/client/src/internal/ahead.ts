import * as Effect from "effect/Effect"
import type { SmtpError } from "../SmtpError.js"
import * as envelope from "./envelope.js"
import { emptyBody } from "./failure.js"
import type * as outgoing from "./outgoing.js"
import { type Reply, text } from "./reply.js"
import type { SessionState } from "./sessionState.js"

/**
 * The next message's commands ahead: with PIPELINING, its MAIL, RCPT and
 * DATA go out in the same write as this body's end (RFC 2920 §3.1), so a busy
 * session needs one round trip per message. Their replies are read when that
 * message is sent; a server that refuses commands there turns it off.
 */

/**
 * The commands already on the wire for `out`, taken off the session; none
 * when nothing rides ahead. Any other message sent first is a bug.
 *
 * @internal
 */
export const take = <E>(
  state: SessionState,
  out: outgoing.Outgoing<E>
): envelope.Prepared<E> | undefined => {
  const ahead = state.ahead
  state.ahead = undefined
  if (ahead !== undefined && ahead.outgoing !== out) {
    // A defect, not a failure: the pool hands a session on only to the send whose commands it carries.
    throw new Error("a message was sent while another one's commands were in flight")
  }
  return ahead as envelope.Prepared<E> | undefined
}

/**
 * The commands of `message` to write behind this body's end, left on the
 * session for its send; none without PIPELINING, once the server refused
 * them, or when `message` fails its checks (it fails them again when sent).
 * Decided only as the body starts: this message's replies may have just
 * turned grouping off.
 *
 * @internal
 */
export const prepare = (
  state: SessionState,
  message: outgoing.Outgoing<unknown> | undefined
): envelope.Prepared<unknown> | undefined => {
  if (message === undefined || !state.capabilities.pipelining || !state.pipelineAfterData) return undefined
  const prepared = envelope.prepare(state, message)
  if (!envelope.isPrepared(prepared)) return undefined
  state.ahead = prepared
  return prepared
}

/**
 * The replies to commands written ahead. A server that refuses them answers
 * MAIL with a sequence error, nothing of the message accepted: the session
 * stops writing ahead and sends the group again, on its own.
 *
 * @internal
 */
export const replies = <E>(
  state: SessionState,
  prepared: envelope.Prepared<E>
): Effect.Effect<Array<Reply>, SmtpError> =>
  Effect.flatMap(
    state.wire.replies(prepared.waits),
    (got) =>
      refusedAhead(got[0])
        ? Effect.andThen(stopAhead(state, got), envelope.pipelined(state, prepared))
        : Effect.succeed(got)
  )

/**
 * Commands pipelined behind the end of DATA are allowed by RFC 2920 §3.1,
 * refused by some servers since the 2023 SMTP smuggling advisories.
 */
const refusedAhead = (mail: Reply): boolean =>
  mail.code === 503 ||
  (mail.code >= 400 && /pipelin|sequence|synchroni[sz]|too (early|soon)/i.test(text(mail)))

/**
 * The session stops writing commands ahead, and the caller learns it. A
 * DATA the server nevertheless accepted gets an empty body, which delivers
 * nothing (no recipient was accepted without MAIL).
 */
const stopAhead = (state: SessionState, got: ReadonlyArray<Reply>): Effect.Effect<void, SmtpError> => {
  state.pipelineAfterData = false
  state.onPipelineAfterDataRefused?.()
  return got[got.length - 1].code === 354 ? Effect.asVoid(emptyBody(state)) : Effect.void
}
