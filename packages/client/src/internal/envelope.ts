import * as Effect from "effect/Effect"
import * as Address from "../SmtpAddress.js"
import { InvalidInputError, type RecipientRejection, SmtpCommandError, type SmtpError, TlsError } from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"
import * as bodyGuard from "./bodyGuard.js"
import * as commands from "./commands.js"
import { commandError, recipientResult } from "./failure.js"
import * as outgoing from "./outgoing.js"
import type { Reply } from "./reply.js"
import type { SessionState } from "./sessionState.js"
import type { Wait } from "./wire.js"

/**
 * The envelope of one message: the checks that need the session, the MAIL
 * and RCPT lines (and DATA) as one pipelined group, and the decision on
 * their replies. Nothing here writes the body.
 */

/**
 * Everything about a message that needs no round trip: its command lines,
 * the pipelined group and the replies it expects.
 *
 * @internal
 */
export interface Prepared<E> {
  readonly outgoing: outgoing.Outgoing<E>
  readonly mailFrom: string
  readonly rcpts: ReadonlyArray<string>
  readonly useBdat: boolean
  /**
   * DATA goes in the pipelined group unless BDAT follows, or the message is
   * to be abandoned when any recipient is refused: a 354 would then force an
   * empty message on the accepted ones.
   */
  readonly dataInGroup: boolean
  /** The pipelined group: MAIL, every RCPT, and DATA when `dataInGroup`. */
  readonly group: string
  /** The waits for the group's replies, in order. */
  readonly waits: ReadonlyArray<Wait>
}

/** @internal */
export type Accepted = Pick<SmtpProtocol.TransactionResult, "accepted" | "rejected" | "recipients">

/**
 * How long each step of a transaction may wait, and what it is called in a
 * `TimeoutError`: made once per session.
 *
 * @internal
 */
export const waitsFor = (timeouts: SmtpProtocol.Timeouts) => ({
  mail: { timeout: timeouts.mail, operation: "MAIL FROM" },
  rcpt: { timeout: timeouts.rcpt, operation: "RCPT TO" },
  data: { timeout: timeouts.dataInitiation, operation: "DATA" },
  dataBlock: { timeout: timeouts.dataBlock, operation: "a DATA block" },
  bdatChunk: { timeout: timeouts.dataBlock, operation: "a BDAT chunk" },
  bdatReply: { timeout: timeouts.dataBlock, operation: "the reply to BDAT" },
  endOfData: { timeout: timeouts.dataTermination, operation: "the reply to the end of DATA" },
  endOfBdat: { timeout: timeouts.dataTermination, operation: "the reply to BDAT" },
  abandoned: { timeout: timeouts.dataTermination, operation: "the reply to an abandoned DATA" },
  rset: { timeout: timeouts.command, operation: "RSET" }
} satisfies Record<string, Wait>)

/** @internal */
export type Waits = ReturnType<typeof waitsFor>

/**
 * The checks that need the session: SMTPUTF8 for non-ASCII addresses, SIZE,
 * REQUIRETLS. Nothing of the transaction is sent when one fails.
 */
const check = <E>(state: SessionState, out: outgoing.Outgoing<E>): InvalidInputError | TlsError | undefined => {
  const { message } = out
  const invalid = (out.envelopeChecked ? undefined : commands.checkEnvelope(message)) ?? outgoing.check(out) ??
    bodyGuard.checkKnown(state, out.body)
  if (invalid !== undefined) return invalid
  const { capabilities } = state
  if (message.requireTls === true) {
    const refused = requireTlsRefusal(state)
    if (refused !== undefined) return refused
  }
  const international = [message.from, ...message.to].find((a) => !Address.isAscii(a))
  if (international !== undefined && !capabilities.smtpUtf8) {
    return new InvalidInputError({
      field: international === message.from ? "from" : "to",
      reason: `${
        JSON.stringify(international)
      } is not ASCII and the server does not offer SMTPUTF8: use the ASCII (punycode) form of the domain, or a server with SMTPUTF8`
    })
  }
  const size = out.body._tag === "Known" ? out.body.facts.size : message.size
  if (size !== undefined && capabilities.size !== undefined && size > capabilities.size) {
    return new InvalidInputError({
      field: "content",
      reason: `the message is ${size} bytes and the server accepts at most ${capabilities.size} (SIZE)`
    })
  }
  return undefined
}

/**
 * REQUIRETLS (RFC 8689) needs an encrypted session, a server that offers
 * it, and (§4.2.1) a verified certificate.
 */
const requireTlsRefusal = (state: SessionState): TlsError | undefined => {
  const target = { host: state.host, port: state.port }
  if (!state.encrypted) return new TlsError({ reason: "RequireTlsWithoutTls", ...target })
  const verification = state.peerVerification
  if (verification?.verified !== true) {
    return new TlsError({
      reason: "RequireTlsUnverified",
      ...target,
      code: verification === undefined ? "the transport does not report verification" : verification.reason
    })
  }
  if (!state.capabilities.requireTls) return new TlsError({ reason: "RequireTlsNotOffered", ...target })
  return undefined
}

/** @internal */
export const prepare = <E>(
  state: SessionState,
  out: outgoing.Outgoing<E>
): InvalidInputError | TlsError | Prepared<E> => {
  const invalid = check(state, out)
  if (invalid !== undefined) return invalid
  const { capabilities } = state
  const { message, body } = out
  const size = body._tag === "Known" ? body.facts.size : message.size
  const useBdat = capabilities.chunking
  const dsn = capabilities.dsn ? message.dsn : undefined
  const mailFrom = commands.mailFrom(message.from, {
    size: capabilities.size !== undefined || capabilities.keywords.has("SIZE") ? size : undefined,
    eightBitMime: capabilities.eightBitMime && (body._tag === "Known" ? body.facts.eightBit : true),
    smtpUtf8: capabilities.smtpUtf8 && [message.from, ...message.to].some((a) => !Address.isAscii(a)),
    dsn,
    requireTls: message.requireTls === true
  })
  const rcpts = message.to.map((to) => commands.rcptTo(to, dsn))
  const dataInGroup = !useBdat && message.partialDelivery !== "abort"
  const w = state.waits
  const expected: Array<Wait> = [w.mail]
  for (let i = 0; i < rcpts.length; i++) expected.push(w.rcpt)
  if (dataInGroup) expected.push(w.data)
  return {
    outgoing: out,
    mailFrom,
    rcpts,
    useBdat,
    dataInGroup,
    group: mailFrom + rcpts.join("") + (dataInGroup ? commands.data : ""),
    waits: expected
  }
}

/** @internal */
export const isPrepared = <E>(prepared: InvalidInputError | TlsError | Prepared<E>): prepared is Prepared<E> =>
  !(prepared instanceof InvalidInputError || prepared instanceof TlsError)

/**
 * The envelope without PIPELINING: each command waits for its reply.
 *
 * @internal
 */
export const stepByStep = <E>(state: SessionState, prepared: Prepared<E>): Effect.Effect<Array<Reply>, SmtpError> =>
  Effect.gen(function*() {
    const w = state.waits
    const got = [yield* state.wire.command(prepared.mailFrom, w.mail)]
    if (got[0].code === 250) {
      for (const rcpt of prepared.rcpts) got.push(yield* state.wire.command(rcpt, w.rcpt))
    }
    return got
  })

/**
 * What the replies to MAIL, RCPT (and a pipelined DATA) decide: the message
 * goes on to its body, or the transaction ends with an error.
 *
 * @internal
 */
export type Decision =
  | { readonly _tag: "Refused"; readonly error: SmtpCommandError }
  | { readonly _tag: "Accepted"; readonly envelope: Accepted }

/** @internal */
export const decide = <E>(prepared: Prepared<E>, got: ReadonlyArray<Reply>): Decision => {
  const { message } = prepared.outgoing
  const mailReply = got[0]
  if (mailReply.code !== 250) return { _tag: "Refused", error: commandError("MAIL FROM", mailReply) }
  const accepted: Array<string> = []
  const rejected: Array<RecipientRejection> = []
  const recipients: Array<RecipientRejection> = []
  for (let i = 0; i < message.to.length && i + 1 < got.length; i++) {
    const r = got[i + 1]
    const result = recipientResult(message.to[i], r)
    recipients.push(result)
    if (r.code === 250 || r.code === 251) accepted.push(message.to[i])
    else rejected.push(result)
  }
  const refused = (all: boolean): Decision => {
    const first = rejected[0]
    return {
      _tag: "Refused",
      error: new SmtpCommandError({
        command: "RCPT TO",
        statusCode: first.statusCode,
        enhancedStatusCode: first.enhancedStatusCode,
        serverMessage: first.message,
        recipient: (all ? message.to.length : rejected.length) === 1 ? first.recipient : undefined,
        rejectedRecipients: rejected,
        // Aborted with some accepted: the message must not read "every recipient was rejected".
        acceptedRecipients: all ? undefined : accepted
      })
    }
  }
  if (accepted.length === 0) return refused(true)
  if (message.partialDelivery === "abort" && rejected.length > 0) return refused(false)
  return { _tag: "Accepted", envelope: { accepted, rejected, recipients } }
}

/**
 * The envelope with PIPELINING: the group in one write, then its replies.
 *
 * @internal
 */
export const pipelined = <E>(state: SessionState, prepared: Prepared<E>): Effect.Effect<Array<Reply>, SmtpError> =>
  Effect.andThen(state.wire.writeLines(prepared.group, state.waits.mail), state.wire.replies(prepared.waits))
