import type * as Stream from "effect/Stream"
import { InvalidInputError } from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"
import * as dataEncoder from "./dataEncoder.js"
import * as slab from "./slab.js"

/**
 * A message body: bytes known up front, with what one scan of them found,
 * or a stream.
 *
 * @internal
 */
export type Body<E> =
  | { readonly _tag: "Known"; readonly bytes: Uint8Array; readonly facts: dataEncoder.Scan }
  | { readonly _tag: "Stream"; readonly stream: Stream.Stream<Uint8Array, E> }

/** @internal */
export const body = <E>(content: SmtpProtocol.Message<E>["content"]): Body<E> => {
  if (typeof content !== "string" && !(content instanceof Uint8Array)) return { _tag: "Stream", stream: content }
  if (typeof content === "string") {
    const bytes = slab.encode(content)
    return { _tag: "Known", bytes, facts: dataEncoder.scanText(content, bytes) }
  }
  return { _tag: "Known", bytes: content, facts: dataEncoder.scan(content) }
}

/** @internal */
export const TypeId: unique symbol = Symbol.for("@effect-smtp/client/Outgoing")

/**
 * A message with its body scanned once: what a session sends. The client
 * makes one per send attempt before it waits for a connection, so the scan is
 * not on the way from one message's final reply to the next one's body.
 *
 * @internal
 */
export interface Outgoing<E> extends SmtpProtocol.Outgoing<E> {
  readonly body: Body<E>
  /** The client checked the envelope before it connected: the session need not again. */
  readonly envelopeChecked: boolean
}

/** @internal */
export const make = <E>(message: SmtpProtocol.Message<E>, envelopeChecked = false): Outgoing<E> => ({
  [TypeId]: TypeId,
  message,
  body: body(message.content),
  envelopeChecked
})

/** The scanned form of what `Session.send` was given. @internal */
export const of = <E>(message: SmtpProtocol.Message<E> | SmtpProtocol.Outgoing<E>): Outgoing<E> =>
  TypeId in message ? message as Outgoing<E> : make(message)

/**
 * A line over 998 octets (RFC 5322 §2.1.1), unless the message allows them.
 *
 * @internal
 */
export const longLineError = (line: dataEncoder.LongLine, exact: boolean): InvalidInputError =>
  new InvalidInputError({
    field: "content",
    reason: `line ${line.line} is ${
      exact ? `${line.octets} octets long` : "longer than 998 octets"
    }; RFC 5322 allows ${dataEncoder.maxLineOctets} (servers fold such lines, breaking signatures, or refuse the message): encode the body as quoted-printable or base64 (@effect-smtp/message does), or set allowLongLines to send it as it is`,
    // Not exact: found in a streamed body, after its start was written.
    foundWhileStreaming: exact ? undefined : true
  })

/**
 * RFC 5322 §3.5 excludes NUL from message text, and RFC 2045 §2.7-2.8 from
 * 7bit and 8bit data.
 *
 * @internal
 */
export const nulError = (offset: number): InvalidInputError =>
  new InvalidInputError({
    field: "content",
    reason:
      `holds a NUL octet (at octet ${offset}), which RFC 5322 (§3.5) and RFC 2045 (§2.7-2.8) exclude from message text: encode binary data as base64 (@effect-smtp/message's composer does)`
  })

/** The checks a scanned body allows before any byte is written. @internal */
export const check = <E>(out: Outgoing<E>): InvalidInputError | undefined => {
  if (out.body._tag !== "Known") return undefined
  const { facts } = out.body
  if (facts.nul !== undefined) return nulError(facts.nul)
  return facts.longLine !== undefined && out.message.allowLongLines !== true
    ? longLineError(facts.longLine, true)
    : undefined
}
