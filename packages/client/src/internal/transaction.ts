import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Address from "../SmtpAddress.js"
import {
  DeliveryUnknownError,
  InvalidInputError,
  isSmtpError,
  type RecipientRejection,
  SmtpCommandError,
  type SmtpError,
  SmtpProtocolError,
  TlsError
} from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"
import * as bodyGuard from "./bodyGuard.js"
import * as commands from "./commands.js"
import * as dataEncoder from "./dataEncoder.js"
import * as outgoing from "./outgoing.js"
import { type Reply, text } from "./reply.js"
import type { SessionState } from "./sessionState.js"
import * as slab from "./slab.js"
import type { Logged, Wait } from "./wire.js"

/**
 * One mail transaction, top to bottom, as MailKit's `Send` reads: check the
 * message against what the server offers; MAIL FROM, RCPT TO for each
 * recipient and DATA (in one write with PIPELINING, RFC 2920); decide on
 * their replies; the body by DATA or BDAT, with the next message's commands
 * riding behind its end when one is waiting; the final reply; the result.
 * RSET ends a failed transaction so the session can carry the next one.
 */

/**
 * Everything about a message that needs no round trip: its command lines,
 * the pipelined group and the replies it expects.
 *
 * @internal
 */
export interface Prepared<E> {
  readonly outgoing: outgoing.Outgoing<E>
  readonly mail: string
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

/** What else a send needs to know: the message behind it, and who watches its end. @internal */
export interface Context<E2> {
  /** The message to send next on this session: its commands may ride behind this body's end. */
  readonly next?: outgoing.Outgoing<unknown> | undefined
  readonly progress?: SmtpProtocol.DeliveryProgress | undefined
  readonly beforeEndOfData?: Effect.Effect<void, E2> | undefined
}

const commandError = (command: string, reply: Reply, recipient?: string): SmtpCommandError =>
  new SmtpCommandError({
    command,
    statusCode: reply.code,
    enhancedStatusCode: reply.enhancedCode,
    serverMessage: text(reply),
    recipient
  })

const recipientResult = (recipient: string, reply: Reply): RecipientRejection => ({
  recipient,
  statusCode: reply.code,
  enhancedStatusCode: reply.enhancedCode,
  message: text(reply)
})

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

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
  const mail = commands.mailFrom(message.from, {
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
    mail,
    rcpts,
    useBdat,
    dataInGroup,
    group: mail + rcpts.join("") + (dataInGroup ? commands.data : ""),
    waits: expected
  }
}

/** @internal */
export const rset = (state: SessionState): Effect.Effect<void, SmtpError> =>
  Effect.flatMap(
    state.wire.command(commands.rset, state.waits.rset),
    (reply) => reply.code === 250 ? Effect.void : Effect.fail(commandError("RSET", reply))
  )

/** Ends a failed transaction with RSET, so the session can carry the next one. */
const recover = <E>(state: SessionState, error: E): Effect.Effect<never, E> =>
  Effect.andThen(state.wire.broken() === undefined ? Effect.ignore(rset(state)) : Effect.void, Effect.fail(error))

/**
 * Sends one message. With `context.next` (and PIPELINING), the next
 * message's MAIL, RCPT and DATA go out in the same write as this body's end
 * (RFC 2920 §3.1); that message must be the next one sent on this session.
 *
 * @internal
 */
export const send = <E, E2>(
  state: SessionState,
  out: outgoing.Outgoing<E>,
  context: Context<E2>
): Effect.Effect<SmtpProtocol.TransactionResult, SmtpError | E | E2> =>
  Effect.suspend(() => {
    const broken = state.wire.broken()
    if (broken !== undefined) return Effect.fail(broken)
    const ahead = state.ahead
    state.ahead = undefined
    if (ahead !== undefined && ahead.outgoing !== out) {
      return Effect.die(new Error("a message was sent while another one's commands were in flight"))
    }
    const prepared = ahead === undefined ? prepare(state, out) : ahead as Prepared<E>
    if (prepared instanceof InvalidInputError || prepared instanceof TlsError) return Effect.fail(prepared)
    const started = state.clock.currentTimeMillisUnsafe()
    const pipelining = state.capabilities.pipelining
    const group = () =>
      Effect.andThen(state.wire.writeLines(prepared.group, state.waits.mail), state.wire.replies(prepared.waits))
    const replies = !pipelining
      ? stepByStep(state, prepared)
      : ahead === undefined
      ? group()
      : Effect.flatMap(
        state.wire.replies(prepared.waits),
        (got) => refusedBehindData(got[0]) ? Effect.andThen(stopGrouping(state, got), group()) : Effect.succeed(got)
      )
    return Effect.flatMap(replies, (got) => afterEnvelope(state, prepared, got, context, started))
  })

/**
 * A server that refuses commands pipelined behind the end of DATA (allowed
 * by RFC 2920 §3.1, refused by some since the 2023 SMTP smuggling advisories)
 * answers MAIL with a sequence error: nothing of the message was accepted.
 */
const refusedBehindData = (mail: Reply): boolean =>
  mail.code === 503 ||
  (mail.code >= 400 && /pipelin|sequence|synchroni[sz]|too (early|soon)/i.test(text(mail)))

/**
 * The session stops grouping behind the end of DATA, and the caller learns
 * it. A DATA the server nevertheless accepted gets an empty body, which
 * delivers nothing (no recipient was accepted without MAIL).
 */
const stopGrouping = (state: SessionState, got: ReadonlyArray<Reply>): Effect.Effect<void, SmtpError> => {
  state.pipelineAfterData = false
  state.onPipelineAfterDataRefused?.()
  return got[got.length - 1].code === 354
    ? Effect.andThen(
      state.wire.write(slab.encode(".\r\n"), state.waits.dataBlock),
      Effect.asVoid(state.wire.reply(state.waits.abandoned))
    )
    : Effect.void
}

/** The envelope without PIPELINING: each command waits for its reply. */
const stepByStep = <E>(state: SessionState, prepared: Prepared<E>): Effect.Effect<Array<Reply>, SmtpError> =>
  Effect.gen(function*() {
    const w = state.waits
    const got = [yield* state.wire.command(prepared.mail, w.mail)]
    if (got[0].code === 250) {
      for (const rcpt of prepared.rcpts) got.push(yield* state.wire.command(rcpt, w.rcpt))
    }
    return got
  })

/** Decides on the replies to MAIL, RCPT (and DATA): abandon, or send the body. */
const afterEnvelope = <E, E2>(
  state: SessionState,
  prepared: Prepared<E>,
  got: ReadonlyArray<Reply>,
  context: Context<E2>,
  started: number
): Effect.Effect<SmtpProtocol.TransactionResult, SmtpError | E | E2> => {
  const { message } = prepared.outgoing
  const w = state.waits
  const mailReply = got[0]
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
  const dataReply = prepared.dataInGroup && state.capabilities.pipelining ? got[got.length - 1] : undefined

  // A pipelined DATA may have been accepted though the transaction cannot
  // go on; an empty body ends it without delivering anything.
  const abandonData = () =>
    dataReply?.code === 354
      ? Effect.andThen(
        state.wire.write(slab.encode(".\r\n"), w.dataBlock),
        Effect.ignore(state.wire.reply(w.abandoned))
      )
      : Effect.void
  const refused = (all: boolean) => {
    const first = rejected[0]
    return new SmtpCommandError({
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

  if (mailReply.code !== 250) {
    return Effect.andThen(abandonData(), recover(state, commandError("MAIL FROM", mailReply)))
  }
  if (accepted.length === 0) return Effect.andThen(abandonData(), recover(state, refused(true)))
  if (message.partialDelivery === "abort" && rejected.length > 0) return recover(state, refused(false))

  const envelope = { accepted, rejected, recipients }
  const transfer = (data: Reply | undefined) =>
    data !== undefined && data.code !== 354
      ? recover(state, commandError("DATA", data))
      : sendBody(state, prepared, envelope, context, started)
  return dataReply === undefined && !prepared.useBdat
    ? Effect.flatMap(state.wire.command(commands.data, w.data), transfer)
    : transfer(dataReply)
}

/** The body, the final reply, and the result. */
const sendBody = <E, E2>(
  state: SessionState,
  prepared: Prepared<E>,
  envelope: Pick<SmtpProtocol.TransactionResult, "accepted" | "rejected" | "recipients">,
  context: Context<E2>,
  started: number
): Effect.Effect<SmtpProtocol.TransactionResult, SmtpError | E | E2> => {
  const envelopeDone = state.clock.currentTimeMillisUnsafe()
  // The next message's commands go out with the end of this body, in the same
  // write (decided only now: this message's replies may have just turned grouping off).
  const following = context.next !== undefined && state.capabilities.pipelining && state.pipelineAfterData
    ? prepare(state, context.next)
    : undefined
  const trailer = following instanceof InvalidInputError || following instanceof TlsError ? undefined : following
  if (trailer !== undefined) state.ahead = trailer
  // Past the end of the message, a lost reply leaves the outcome unknown.
  const progress = context.progress ?? { endWritten: false, replied: false }
  state.current = progress
  // From here a copy of the message may reach the server: no send goes again on another connection.
  progress.bodyStarted = true
  const recipients = envelope.accepted.length
  const transfer = prepared.useBdat
    ? sendBdat(state, prepared.outgoing, recipients, trailer, context.beforeEndOfData, progress)
    : sendData(state, prepared.outgoing, recipients, trailer, context.beforeEndOfData, progress)
  // Cut off while waiting, the reply was never read: the state stays "unknown".
  return Effect.matchEffect(transfer, {
    onFailure: (error) => {
      progress.replied = true
      return Effect.fail(
        progress.endWritten && isSmtpError(error) &&
          (error._tag === "SocketError" || error._tag === "TimeoutError" || error._tag === "SmtpProtocolError")
          ? new DeliveryUnknownError({
            cause: error,
            messageId: prepared.outgoing.message.messageId,
            recipients: envelope.accepted
          })
          : error
      )
    },
    onSuccess: ([finals, bytesSent]): Effect.Effect<SmtpProtocol.TransactionResult, SmtpError> => {
      progress.replied = true
      const command = prepared.useBdat ? "BDAT" : "DATA"
      const finished = state.clock.currentTimeMillisUnsafe()
      const timings = { envelopeMs: envelopeDone - started, dataMs: finished - envelopeDone }
      if (!state.lmtp) {
        const final = finals[0]
        return final.code === 250
          ? Effect.succeed(result(final, envelope, bytesSent, timings))
          : Effect.fail(commandError(command, final))
      }
      // LMTP: one reply per accepted recipient, in order (RFC 2033 §4.2).
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
  })
}

/** The result of a message the server took, from its final reply. */
const result = (
  final: Reply,
  envelope: Pick<SmtpProtocol.TransactionResult, "accepted" | "rejected" | "recipients">,
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
 * The replies to the end of a message: one, or for LMTP one per accepted
 * recipient (a pipelined group of replies, each within the wait).
 */
const finalReplies = (state: SessionState, wait: Wait, recipients: number): Effect.Effect<Array<Reply>, SmtpError> =>
  !state.lmtp || recipients === 1
    ? Effect.map(state.wire.reply(wait), (final) => [final])
    : state.wire.replies(Array.from({ length: recipients }, () => wait))

/**
 * A body stream (or the step before the end) failed part way: the server
 * holds a partial message that must never be delivered, so the session ends
 * without the end of the message.
 */
const abandoned = (state: SessionState, what: string) => <X>(error: X): Effect.Effect<never, X> =>
  Effect.suspend(() => {
    if (!isSmtpError(error)) {
      state.wire.markBroken(new SmtpProtocolError({ reason: "UnexpectedReply", detail: what }))
    }
    return Effect.fail(error)
  })

/** Runs the caller's step before the end of the message; its failure abandons the message. */
const beforeEnd = <E2>(state: SessionState, step: Effect.Effect<void, E2> | undefined): Effect.Effect<void, E2> =>
  step === undefined
    ? Effect.void
    : Effect.catch(step, abandoned(state, "the step before the end of the message failed"))

const dataLog = (body: Uint8Array, trailer: Prepared<unknown> | undefined) => (): ReadonlyArray<Logged> =>
  trailer === undefined
    ? [{ _tag: "Body", bytes: body }]
    : [{ _tag: "Body", bytes: body }, { _tag: "Lines", lines: trailer.group }]

const sendData = <E, E2>(
  state: SessionState,
  { body, message }: outgoing.Outgoing<E>,
  recipients: number,
  trailer: Prepared<unknown> | undefined,
  before: Effect.Effect<void, E2> | undefined,
  progress: SmtpProtocol.DeliveryProgress
): Effect.Effect<readonly [ReadonlyArray<Reply>, number], SmtpError | E | E2> => {
  const { wire } = state
  const w = state.waits
  const after = trailer === undefined ? undefined : slab.encode(trailer.group)
  const finalReply = (bytes: number) =>
    Effect.map(finalReplies(state, w.endOfData, recipients), (finals) => [finals, bytes] as const)
  if (body._tag === "Known") {
    const whole = dataEncoder.encodeWhole(body.bytes, body.facts, true, after)
    const written = Effect.flatMap(
      wire.write(whole.bytes, w.dataBlock, dataLog(whole.bytes.subarray(0, whole.bodyLength), trailer)),
      () => {
        progress.endWritten = true
        return finalReply(whole.bodyLength)
      }
    )
    return before === undefined ? written : Effect.andThen(beforeEnd(state, before), written)
  }
  return Effect.gen(function*() {
    const encoder = dataEncoder.make(true)
    const guard = bodyGuard.stream(state, message, encoder)
    let bytes = 0
    yield* Stream.runForEach(body.stream, (chunk) => {
      const encoded = encoder.write(chunk)
      const refused = guard.chunk(chunk)
      if (refused !== undefined) return refused
      bytes += encoded.length
      return encoded.length === 0 ? Effect.void : wire.write(encoded, w.dataBlock, dataLog(encoded, undefined))
    }).pipe(Effect.catch(abandoned(state, "the message body failed")))
    const tail = encoder.end()
    bytes += tail.length
    const tooLarge = guard.end()
    if (tooLarge !== undefined) return yield* tooLarge
    yield* beforeEnd(state, before)
    yield* wire.write(after === undefined ? tail : concat(tail, after), w.dataBlock, dataLog(tail, trailer))
    progress.endWritten = true
    return yield* finalReply(bytes)
  })
}

const sendBdat = <E, E2>(
  state: SessionState,
  { body, message }: outgoing.Outgoing<E>,
  recipients: number,
  trailer: Prepared<unknown> | undefined,
  before: Effect.Effect<void, E2> | undefined,
  progress: SmtpProtocol.DeliveryProgress
): Effect.Effect<readonly [ReadonlyArray<Reply>, number], SmtpError | E | E2> =>
  Effect.gen(function*() {
    const { wire } = state
    const w = state.waits
    const after = trailer === undefined ? undefined : slab.encode(trailer.group)
    const chunkLog = (line: string, data: Uint8Array, last: boolean) => (): ReadonlyArray<Logged> => {
      const entries: Array<Logged> = [{ _tag: "Lines", lines: line }, { _tag: "Body", bytes: data }]
      if (last && trailer !== undefined) entries.push({ _tag: "Lines", lines: trailer.group })
      return entries
    }
    if (body._tag === "Known") {
      let line = ""
      const whole = dataEncoder.encodeWhole(body.bytes, body.facts, false, after, (length) => {
        line = commands.bdat(length, true)
        return slab.encode(line)
      })
      yield* beforeEnd(state, before)
      yield* wire.write(
        whole.bytes,
        w.bdatChunk,
        chunkLog(line, whole.bytes.subarray(line.length, line.length + whole.bodyLength), true)
      )
      progress.endWritten = true
      const finals = yield* finalReplies(state, w.endOfBdat, recipients)
      return [finals, whole.bodyLength] as const
    }
    let bytes = 0
    const chunk = (data: Uint8Array, last: boolean) =>
      Effect.gen(function*() {
        bytes += data.length
        const line = commands.bdat(data.length, last)
        const chunkBytes = concat(slab.encode(line), data)
        if (last) yield* beforeEnd(state, before)
        yield* wire.write(
          last && after !== undefined ? concat(chunkBytes, after) : chunkBytes,
          w.bdatChunk,
          chunkLog(line, data, last)
        )
        if (last) {
          progress.endWritten = true
          return yield* finalReplies(state, w.endOfBdat, recipients)
        }
        const r = yield* wire.reply(w.bdatReply)
        // RFC 3030: after a failed chunk no further BDAT is sent.
        if (r.code !== 250) return yield* recover(state, commandError("BDAT", r))
        return [r]
      })
    const encoder = dataEncoder.make(false)
    const guard = bodyGuard.stream(state, message, encoder)
    // One chunk is held back so the last one can carry LAST.
    let held: Uint8Array | undefined = undefined
    yield* Stream.runForEach(body.stream, (data): Effect.Effect<unknown, SmtpError | E2> => {
      const encoded = encoder.write(data)
      const refused = guard.chunk(data)
      if (refused !== undefined) return refused
      if (encoded.length === 0) return Effect.void
      const previous = held
      held = encoded
      return previous === undefined ? Effect.void : chunk(previous, false)
    }).pipe(Effect.catch(abandoned(state, "the message body failed")))
    const tail = encoder.end()
    const tooLarge = guard.end()
    if (tooLarge !== undefined) return yield* tooLarge
    const last: Uint8Array = held === undefined ? tail : concat(held, tail)
    const finals = yield* chunk(last, true)
    return [finals, bytes] as const
  })

/**
 * The server's queue ID, from the common reply forms: Postfix and many others
 * "queued as 4XyZ", Exim "id=1kXyZ-...", Sendmail "4ABC123 Message accepted".
 */
const queueIdOf = (reply: string): string | undefined =>
  /queued as ([^\s;,)]+)/i.exec(reply)?.[1] ??
    /\bid=([^\s;,)]+)/i.exec(reply)?.[1] ??
    /^([A-Za-z0-9]{8,})\s+Message accepted/i.exec(reply)?.[1]
