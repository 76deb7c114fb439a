import * as Effect from "effect/Effect"
import {
  DeliveryUnknownError,
  isSmtpError,
  type RecipientRejection,
  SmtpCommandError,
  type SmtpError,
  SmtpProtocolError
} from "../SmtpError.js"
import * as commands from "./commands.js"
import { type Reply, text } from "./reply.js"
import type { SessionState } from "./sessionState.js"
import * as slab from "./slab.js"

/**
 * How a transaction fails: a refusal as an error, RSET to end it so the
 * session carries the next one, a body abandoned part way, and a lost reply
 * past the end of the message turned into "delivery unknown".
 */

/** @internal */
export const commandError = (command: string, reply: Reply, recipient?: string): SmtpCommandError =>
  new SmtpCommandError({
    command,
    statusCode: reply.code,
    enhancedStatusCode: reply.enhancedCode,
    serverMessage: text(reply),
    recipient
  })

/** @internal */
export const recipientResult = (recipient: string, reply: Reply): RecipientRejection => ({
  recipient,
  statusCode: reply.code,
  enhancedStatusCode: reply.enhancedCode,
  message: text(reply)
})

/** @internal */
export const rset = (state: SessionState): Effect.Effect<void, SmtpError> =>
  Effect.flatMap(
    state.wire.command(commands.rset, state.waits.rset),
    (reply) => reply.code === 250 ? Effect.void : Effect.fail(commandError("RSET", reply))
  )

/**
 * Ends a failed transaction with RSET, so the session can carry the next one.
 *
 * @internal
 */
export const recover = <E>(state: SessionState, error: E): Effect.Effect<never, E> =>
  Effect.andThen(state.wire.broken() === undefined ? Effect.ignore(rset(state)) : Effect.void, Effect.fail(error))

/**
 * A body stream (or the step before the end) failed part way: the server
 * holds a partial message that must never be delivered, so the session ends
 * without the end of the message.
 *
 * @internal
 */
export const abandoned = (state: SessionState, what: string) => <X>(error: X): Effect.Effect<never, X> =>
  Effect.suspend(() => {
    if (!isSmtpError(error)) {
      state.wire.markBroken(new SmtpProtocolError({ reason: "UnexpectedReply", detail: what }))
    }
    return Effect.fail(error)
  })

/**
 * Past the end of the message, a reply lost to the network or a timeout
 * leaves the outcome unknown: the message may have been delivered.
 *
 * @internal
 */
export const afterEnd = <X>(
  progress: { readonly endWritten: boolean },
  error: X,
  messageId: string | undefined,
  recipients: ReadonlyArray<string>
): X | DeliveryUnknownError =>
  progress.endWritten && isSmtpError(error) &&
    (error._tag === "SocketError" || error._tag === "TimeoutError" || error._tag === "SmtpProtocolError")
    ? new DeliveryUnknownError({ cause: error, messageId, recipients })
    : error

/**
 * A DATA the server accepted though the transaction cannot go on: an empty
 * body ends it, which delivers nothing.
 *
 * @internal
 */
export const emptyBody = (state: SessionState): Effect.Effect<Reply, SmtpError> =>
  Effect.andThen(state.wire.write(slab.encode(".\r\n"), state.waits.dataBlock), state.wire.reply(state.waits.abandoned))
