import * as Effect from "effect/Effect"
import type { SmtpError } from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"
import * as ahead from "./ahead.js"
import * as body from "./body.js"
import * as commands from "./commands.js"
import * as envelope from "./envelope.js"
import { afterEnd, commandError, emptyBody, recover } from "./failure.js"
import * as finalReply from "./finalReply.js"
import type * as outgoing from "./outgoing.js"
import type { Reply } from "./reply.js"
import type { SessionState } from "./sessionState.js"

/**
 * One mail transaction, top to bottom, as MailKit's `Send` reads: the
 * envelope (MAIL FROM, RCPT TO for each recipient, and DATA, in one write
 * with PIPELINING, RFC 2920), the decision on its replies, the body by DATA
 * or BDAT with the next message's commands ahead behind its end, the final
 * reply, the result. RSET ends a failed transaction so the session can carry
 * the next one. Each step lives in its own module: `envelope`, `ahead`,
 * `body`, `finalReply`, `failure`.
 */

/** What else a send needs to know: the message behind it, and who watches its end. @internal */
export interface SendOptions<E2> {
  /** The message to send next on this session: its commands may ride ahead, behind this body's end. */
  readonly ahead?: outgoing.Outgoing<unknown> | undefined
  readonly progress?: SmtpProtocol.DeliveryProgress | undefined
  readonly beforeEndOfData?: Effect.Effect<void, E2> | undefined
}

/** @internal */
export const send = <E, E2>(
  state: SessionState,
  out: outgoing.Outgoing<E>,
  options: SendOptions<E2>
): Effect.Effect<SmtpProtocol.TransactionResult, SmtpError | E | E2> =>
  Effect.suspend(() => {
    const broken = state.wire.broken()
    if (broken !== undefined) return Effect.fail(broken)
    // Commands already on the wire (ahead) were checked when they were written.
    const written = ahead.take(state, out)
    const prepared = written ?? envelope.prepare(state, out)
    if (!envelope.isPrepared(prepared)) return Effect.fail(prepared)
    const started = state.clock.currentTimeMillisUnsafe()
    // MAIL, RCPT for each recipient (and DATA): their replies.
    const replies = !state.capabilities.pipelining
      ? envelope.stepByStep(state, prepared)
      : written !== undefined
      ? ahead.replies(state, prepared)
      : envelope.pipelined(state, prepared)
    return Effect.flatMap(replies, (got) => {
      const decision = envelope.decide(prepared, got)
      const dataReply = prepared.dataInGroup && state.capabilities.pipelining ? got[got.length - 1] : undefined
      if (decision._tag === "Refused") {
        // A pipelined DATA may have been accepted though the transaction cannot go on.
        const abandon = dataReply?.code === 354 ? Effect.ignore(emptyBody(state)) : Effect.void
        return Effect.andThen(abandon, recover(state, decision.error))
      }
      const accepted = decision.envelope
      const transfer = (data: Reply | undefined) => {
        if (data !== undefined && data.code !== 354) return recover(state, commandError("DATA", data))
        const envelopeDone = state.clock.currentTimeMillisUnsafe()
        const progress = options.progress ?? { endWritten: false, replied: false }
        state.current = progress
        // From here a copy of the message may reach the server: no send goes again on another connection.
        progress.bodyStarted = true
        const sent = body.send(state, out, {
          useBdat: prepared.useBdat,
          recipients: accepted.accepted.length,
          ahead: ahead.prepare(state, options.ahead),
          beforeEndOfData: options.beforeEndOfData,
          progress
        })
        // Cut off while waiting, the reply was never read: the state stays "unknown".
        return Effect.matchEffect(sent, {
          onFailure: (error) => {
            progress.replied = true
            return Effect.fail(afterEnd(progress, error, out.message.messageId, accepted.accepted))
          },
          onSuccess: ([finals, bytesSent]) => {
            progress.replied = true
            const finished = state.clock.currentTimeMillisUnsafe()
            const timings = { envelopeMs: envelopeDone - started, dataMs: finished - envelopeDone }
            return finalReply.outcome(state, prepared.useBdat ? "BDAT" : "DATA", finals, accepted, bytesSent, timings)
          }
        })
      }
      // With BDAT, or with DATA in the group, the body follows at once; else DATA now.
      return dataReply !== undefined || prepared.useBdat
        ? transfer(dataReply)
        : Effect.flatMap(state.wire.command(commands.data, state.waits.data), transfer)
    })
  })
