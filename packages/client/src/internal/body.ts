import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { SmtpError } from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"
import * as bodyGuard from "./bodyGuard.js"
import * as commands from "./commands.js"
import * as dataEncoder from "./dataEncoder.js"
import type { Prepared, Waits } from "./envelope.js"
import { abandoned, commandError, recover } from "./failure.js"
import * as finalReply from "./finalReply.js"
import type * as outgoing from "./outgoing.js"
import type { Reply } from "./reply.js"
import type { SessionState } from "./sessionState.js"
import * as slab from "./slab.js"
import type { Logged, Wait } from "./wire.js"

/**
 * The body of one message, through one framer for DATA and BDAT: a known
 * body goes out in one buffer (with its end, and the next message's commands
 * ahead behind it); a streamed one chunk by chunk as it comes. The framer
 * says what differs: DATA stuffs dots and ends with a dot line; BDAT puts a
 * command line in front of each chunk, LAST on the final one, and reads a
 * reply after each other chunk.
 */

/** What DATA and BDAT do differently: two constants, nothing made per message. */
interface Framer {
  readonly stuffDots: boolean
  /** The wait for a chunk's write. */
  readonly wait: (waits: Waits) => Wait
  /** The wait for the reply to the end of the message. */
  readonly endWait: (waits: Waits) => Wait
  /** The command line in front of a chunk (BDAT), which must know whether it is the last. */
  readonly header: ((length: number, last: boolean) => string) | undefined
  /** After a chunk that is not the last (BDAT): its reply. */
  readonly between: ((state: SessionState) => Effect.Effect<void, SmtpError>) | undefined
}

const dataFramer: Framer = {
  stuffDots: true,
  wait: (waits) => waits.dataBlock,
  endWait: (waits) => waits.endOfData,
  header: undefined,
  between: undefined
}

const bdatFramer: Framer = {
  stuffDots: false,
  wait: (waits) => waits.bdatChunk,
  endWait: (waits) => waits.endOfBdat,
  header: commands.bdat,
  between: (state) =>
    Effect.flatMap(state.wire.reply(state.waits.bdatReply), (reply) =>
      // RFC 3030: after a failed chunk no further BDAT is sent.
      reply.code === 250 ? Effect.void : recover(state, commandError("BDAT", reply)))
}

/** @internal */
export interface BodyOptions<E2> {
  readonly useBdat: boolean
  /** Accepted recipients: LMTP answers the end once for each. */
  readonly recipients: number
  /** The next message's commands, to ride behind the end. */
  readonly ahead: Prepared<unknown> | undefined
  readonly beforeEndOfData: Effect.Effect<void, E2> | undefined
  readonly progress: SmtpProtocol.DeliveryProgress
}

/**
 * Writes the body and its end, and reads the final replies: with the body's
 * length on the wire.
 *
 * @internal
 */
export const send = <E, E2>(
  state: SessionState,
  { body, message }: outgoing.Outgoing<E>,
  options: BodyOptions<E2>
): Effect.Effect<readonly [ReadonlyArray<Reply>, number], SmtpError | E | E2> => {
  const framer = options.useBdat ? bdatFramer : dataFramer
  const wait = framer.wait(state.waits)
  const { ahead, progress } = options
  const aheadBytes = ahead === undefined ? undefined : slab.encode(ahead.group)
  const log = (header: string, data: Uint8Array, last: boolean) => (): ReadonlyArray<Logged> => {
    const entries: Array<Logged> = header === "" ? [] : [{ _tag: "Lines", lines: header }]
    entries.push({ _tag: "Body", bytes: data })
    if (last && ahead !== undefined) entries.push({ _tag: "Lines", lines: ahead.group })
    return entries
  }
  const end = (bytes: number) => {
    progress.endWritten = true
    return Effect.map(
      finalReply.read(state, framer.endWait(state.waits), options.recipients),
      (finals) => [finals, bytes] as const
    )
  }
  const beforeEnd = options.beforeEndOfData === undefined
    ? undefined
    : Effect.catch(options.beforeEndOfData, abandoned(state, "the step before the end of the message failed"))

  if (body._tag === "Known") {
    // One buffer: header, body, end, and the commands ahead.
    let header = ""
    const frame = framer.header
    const whole = dataEncoder.encodeWhole(
      body.bytes,
      body.facts,
      framer.stuffDots,
      aheadBytes,
      frame === undefined ? undefined : (length) => slab.encode(header = frame(length, true))
    )
    const data = whole.bytes.subarray(header.length, header.length + whole.bodyLength)
    const written = Effect.flatMap(
      state.wire.write(whole.bytes, wait, log(header, data, true)),
      () => end(whole.bodyLength)
    )
    return beforeEnd === undefined ? written : Effect.andThen(beforeEnd, written)
  }

  /** One chunk on the wire, framed; the last one carries the end and the commands ahead. */
  const chunk = (data: Uint8Array, last: boolean): Effect.Effect<void, SmtpError> => {
    const header = framer.header === undefined ? "" : framer.header(data.length, last)
    const tail = last ? aheadBytes : undefined
    const bytes = header === "" && tail === undefined ? data : join(slab.encode(header), data, tail)
    const written = state.wire.write(bytes, wait, log(header, data, last))
    return last || framer.between === undefined ? written : Effect.andThen(written, framer.between(state))
  }
  return Effect.gen(function*() {
    const encoder = dataEncoder.make(framer.stuffDots)
    const guard = bodyGuard.stream(state, message, encoder)
    // BDAT holds one chunk back, so the last one can carry LAST.
    const holdLast = framer.header !== undefined
    let held: Uint8Array | undefined = undefined
    let bytes = 0
    yield* Stream.runForEach(body.stream, (raw): Effect.Effect<void, SmtpError> => {
      const encoded = encoder.write(raw)
      const refused = guard.chunk()
      if (refused !== undefined) return refused
      if (encoded.length === 0) return Effect.void
      bytes += encoded.length
      if (!holdLast) return chunk(encoded, false)
      const previous = held
      held = encoded
      return previous === undefined ? Effect.void : chunk(previous, false)
    }).pipe(Effect.catch(abandoned(state, "the message body failed")))
    const tail = encoder.end()
    bytes += tail.length
    const tooLarge = guard.end()
    if (tooLarge !== undefined) return yield* tooLarge
    if (beforeEnd !== undefined) yield* beforeEnd
    yield* chunk(held === undefined ? tail : join(held, tail), true)
    return yield* end(bytes)
  })
}

/** Byte arrays one after the other, in one buffer. */
const join = (...parts: ReadonlyArray<Uint8Array | undefined>): Uint8Array => {
  let length = 0
  for (const part of parts) length += part?.length ?? 0
  const out = slab.allocate(length)
  let at = 0
  for (const part of parts) {
    if (part === undefined) continue
    out.set(part, at)
    at += part.length
  }
  return out
}
