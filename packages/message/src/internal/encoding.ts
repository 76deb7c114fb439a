import * as Stream from "effect/Stream"
import libbase64 from "libbase64"
import * as libqp from "libqp"
import { isMostlyNonAscii } from "./headers.js"

/**
 * Body encodings. Everything here produces 7-bit text in lines of at most 76
 * characters joined by CRLF, without a CRLF after the last line: the CRLF
 * before a MIME boundary belongs to the boundary (RFC 2046 §5.1.1), so the
 * caller adds it.
 */

/** @internal */
export interface EncodedText {
  readonly transferEncoding: "quoted-printable" | "base64"
  readonly body: string
}

/**
 * A text body as UTF-8. Text/* line breaks are CRLF in canonical form
 * (RFC 2046 §4.1.1), so CR, LF and CRLF all become CRLF before encoding.
 *
 * @internal
 */
export const encodeText = (text: string): EncodedText => {
  const canonical = text.replace(/\r\n|\r|\n/g, "\r\n")
  return isMostlyNonAscii(canonical)
    ? { transferEncoding: "base64", body: libbase64.wrap(libbase64.encode(canonical), 76) }
    : { transferEncoding: "quoted-printable", body: libqp.wrap(libqp.encode(canonical), 76) }
}

/** 57 bytes are exactly one 76-character base64 line, with no padding. */
const lineBytes = 57
const ascii = new TextEncoder()

/**
 * Base64 in 76-character lines, as the bytes arrive. Input is encoded in
 * whole lines of 57 bytes; the remainder of a chunk is carried into the next
 * one, so where the input is split never changes the output, and a large
 * attachment is never held in memory whole.
 *
 * @internal
 */
export const base64Lines = <E>(input: Stream.Stream<Uint8Array, E>): Stream.Stream<Uint8Array, E> =>
  Stream.suspend(() => {
    // Per run of the stream, so the composed message can be sent more than once.
    let carry = new Uint8Array(0)
    let first = true
    const lines = (bytes: Uint8Array): Uint8Array => {
      if (bytes.length === 0) return bytes
      const text = libbase64.wrap(libbase64.encode(bytes), 76)
      const out = ascii.encode(first ? text : `\r\n${text}`)
      first = false
      return out
    }
    return input.pipe(
      Stream.map((chunk) => {
        const joined = new Uint8Array(carry.length + chunk.length)
        joined.set(carry, 0)
        joined.set(chunk, carry.length)
        const whole = joined.length - (joined.length % lineBytes)
        carry = joined.slice(whole)
        return lines(joined.subarray(0, whole))
      }),
      Stream.concat(Stream.sync(() => lines(carry))),
      Stream.filter((bytes) => bytes.length > 0)
    )
  })
