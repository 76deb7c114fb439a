import * as Effect from "effect/Effect"
import { InvalidInputError, SmtpProtocolError } from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"
import type * as dataEncoder from "./dataEncoder.js"
import * as outgoing from "./outgoing.js"
import type { SessionState } from "./sessionState.js"

/**
 * What a body may hold and how big it may be. A known body is checked before
 * any byte of the transaction is written; a streamed one chunk by chunk,
 * before each chunk is written: the first offence abandons the message
 * without its end (no final dot, no BDAT LAST), and the session is closed,
 * so the server stores nothing.
 */

/**
 * An octet over 127 to a server that does not offer 8BITMIME (RFC 6152): it
 * would travel undeclared through a 7-bit path, where relays may strip the
 * eighth bit or bounce the message.
 *
 * @internal
 */
export const eightBitError = (offset: number): InvalidInputError =>
  new InvalidInputError({
    field: "content",
    reason:
      `holds 8-bit octets (the first at octet ${offset}) and the server does not offer 8BITMIME: encode the body as quoted-printable or base64 (the composer of @effect-smtp/message always writes 7-bit output), or send through a server that offers 8BITMIME`
  })

/**
 * A streamed body that grew past the server's SIZE (RFC 1870): the server
 * would refuse it after the whole of it was sent.
 *
 * @internal
 */
export const sizeError = (limit: number): InvalidInputError =>
  new InvalidInputError({
    field: "content",
    reason:
      `the streamed message passed ${limit} bytes, the most the server accepts (SIZE ${limit}): it was abandoned before its end, so the server stored nothing. Send a smaller message, or declare its size to be told before any byte is written`
  })

/** The offset of the first octet over 127, or -1. @internal */
export const firstEightBit = (bytes: Uint8Array): number => {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] > 0x7f) return i
  return -1
}

/**
 * Whether the session may carry an 8-bit body: only when the server offers
 * 8BITMIME, which the client then declares (BODY=8BITMIME).
 *
 * @internal
 */
export const eightBitAllowed = (state: SessionState): boolean => state.capabilities.eightBitMime

/**
 * The checks of a known body that need the session (8BITMIME); its NUL and
 * long lines are refused before connecting, by `outgoing.check`.
 *
 * @internal
 */
export const checkKnown = (state: SessionState, body: outgoing.Body<unknown>): InvalidInputError | undefined =>
  body._tag === "Known" && body.facts.eightBit && !eightBitAllowed(state)
    ? eightBitError(firstEightBit(body.bytes))
    : undefined

/**
 * Checks a streamed body as it goes.
 *
 * @internal
 */
export interface StreamGuard {
  /** After each `encoder.write`: a failure that abandons the message, or `undefined`. */
  readonly chunk: () => Effect.Effect<never, InvalidInputError> | undefined
  /** After `encoder.end()`, before the end is written. */
  readonly end: () => Effect.Effect<never, InvalidInputError> | undefined
}

/** @internal */
export const stream = (
  state: SessionState,
  message: SmtpProtocol.Message<unknown>,
  encoder: dataEncoder.BodyEncoder
): StreamGuard => {
  const eightBit = eightBitAllowed(state)
  const limit = state.capabilities.size
  const abandon = (error: InvalidInputError, why: string) => {
    // Broken: the session is closed, never ended with a QUIT, and the server
    // discards the partial message.
    state.wire.markBroken(
      new SmtpProtocolError({ reason: "UnexpectedReply", detail: `the message was abandoned: ${why}` })
    )
    return Effect.fail(error)
  }
  const size = () =>
    limit !== undefined && encoder.size() > limit ? abandon(sizeError(limit), "it passed the server's SIZE") : undefined
  return {
    chunk: () => {
      // The encoder's one pass over the chunk found these.
      const nul = encoder.nul()
      if (nul !== undefined) return abandon(outgoing.nulError(nul), "a NUL octet")
      const high = eightBit ? undefined : encoder.eightBit()
      if (high !== undefined) return abandon(eightBitError(high), "8-bit octets without 8BITMIME")
      const long = message.allowLongLines === true ? undefined : encoder.longLine()
      if (long !== undefined) return abandon(outgoing.longLineError(long, false), "a line over 998 octets")
      return size()
    },
    end: size
  }
}
