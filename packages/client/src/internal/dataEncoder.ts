/**
 * The message body encoder. It normalises every lone CR and lone LF to CRLF
 * (RFC 5321 §2.3.8; lone ones are what SMTP smuggling rides on) and, for
 * DATA, doubles a "." at the start of every line (§4.5.2), including a line
 * that starts after a normalised break and a CR/LF pair split across chunks.
 * The terminator `CRLF.CRLF` is emitted exactly once, by `end`.
 */

const CR = 0x0d
const LF = 0x0a
const DOT = 0x2e

/** @internal */
export interface BodyEncoder {
  /** Encodes the next chunk; the result may be empty. */
  readonly write: (chunk: Uint8Array) => Uint8Array
  /** Ends the body: the trailing line break, plus `.CRLF` for DATA. */
  readonly end: () => Uint8Array
}

/**
 * @param stuffDots `true` for DATA; `false` for BDAT, which carries the body
 * by length and has no terminator to protect.
 * @internal
 */
export const make = (stuffDots: boolean): BodyEncoder => {
  let atLineStart = true
  let pendingCR = false

  const write = (chunk: Uint8Array): Uint8Array => {
    // Worst case every byte doubles (a lone break or a leading dot), plus a
    // CRLF owed by a CR held over from the last chunk.
    const out = new Uint8Array(chunk.length * 2 + 2)
    let o = 0
    let i = 0
    if (pendingCR) {
      pendingCR = false
      out[o++] = CR
      out[o++] = LF
      atLineStart = true
      if (chunk.length > 0 && chunk[0] === LF) i = 1
    }
    // Whole runs between line breaks are copied at once; the native indexOf
    // finds the next CR and LF, each searched again only once passed.
    let nextCR = chunk.indexOf(CR, i)
    let nextLF = chunk.indexOf(LF, i)
    while (i < chunk.length) {
      if (nextCR !== -1 && nextCR < i) nextCR = chunk.indexOf(CR, i)
      if (nextLF !== -1 && nextLF < i) nextLF = chunk.indexOf(LF, i)
      const lineEnd = nextCR === -1
        ? (nextLF === -1 ? chunk.length : nextLF)
        : nextLF === -1
        ? nextCR
        : Math.min(nextCR, nextLF)
      if (lineEnd > i) {
        if (atLineStart && stuffDots && chunk[i] === DOT) out[o++] = DOT
        out.set(chunk.subarray(i, lineEnd), o)
        o += lineEnd - i
        atLineStart = false
        i = lineEnd
      }
      if (i === chunk.length) break
      if (chunk[i] === CR && i + 1 === chunk.length) {
        pendingCR = true
        break
      }
      // A CRLF, a lone CR or a lone LF: each is one CRLF on the wire.
      out[o++] = CR
      out[o++] = LF
      atLineStart = true
      i += chunk[i] === CR && chunk[i + 1] === LF ? 2 : 1
    }
    return out.subarray(0, o)
  }

  const end = (): Uint8Array => {
    const tail: Array<number> = []
    if (pendingCR || !atLineStart) tail.push(CR, LF)
    pendingCR = false
    atLineStart = true
    if (stuffDots) tail.push(DOT, CR, LF)
    return Uint8Array.from(tail)
  }

  return { write, end }
}

/**
 * The number of bytes the encoder adds no dots to: the size of the body as
 * canonical CRLF text, which is what the SIZE parameter declares.
 *
 * @internal
 */
export const canonicalSize = (body: Uint8Array): number => {
  let size = 0
  let atLineStart = true
  for (let i = 0; i < body.length; i++) {
    const b = body[i]
    if (b === CR) {
      size += 2
      if (body[i + 1] === LF) i++
      atLineStart = true
    } else if (b === LF) {
      size += 2
      atLineStart = true
    } else {
      size += 1
      atLineStart = false
    }
  }
  return atLineStart ? size : size + 2
}
