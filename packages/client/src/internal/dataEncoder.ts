/**
 * The message body encoder. It normalises every lone CR and lone LF to CRLF
 * (RFC 5321 §2.3.8; lone ones are what SMTP smuggling rides on) and, for
 * DATA, doubles a "." at the start of every line (§4.5.2), including a line
 * that starts after a normalised break and a CR/LF pair split across chunks.
 * The terminator `CRLF.CRLF` is emitted exactly once, by `end`.
 */

import * as slab from "./slab.js"

const noWords = new Uint32Array(0)
const CR = 0x0d
const LF = 0x0a
const DOT = 0x2e

/** @internal */
export interface BodyEncoder {
  /** Encodes the next chunk; the result may be empty. */
  readonly write: (chunk: Uint8Array) => Uint8Array
  /** Ends the body: the trailing line break, plus `.CRLF` for DATA. */
  readonly end: () => Uint8Array
  /** The first line so far longer than `maxLineOctets` (the line being written counts once it is too long). */
  readonly longLine: () => LongLine | undefined
  /**
   * The body so far as canonical CRLF text, dots not doubled (and, after
   * `end`, its trailing line break): what SIZE counts, as `Scan.size` does.
   */
  readonly size: () => number
  /** The input offset of the first NUL octet so far, or `undefined`. */
  readonly nul: () => number | undefined
  /** The input offset of the first octet over 127 so far, or `undefined`. */
  readonly eightBit: () => number | undefined
}

/**
 * @param stuffDots `true` for DATA; `false` for BDAT, which carries the body
 * by length and has no terminator to protect.
 * @internal
 */
export const make = (stuffDots: boolean): BodyEncoder => {
  let atLineStart = true
  let pendingCR = false
  /** Lines ended so far, and the octets of the one being written. */
  let lines = 0
  let lineOctets = 0
  let long: LongLine | undefined = undefined
  let size = 0
  const lineEnded = () => {
    lines++
    lineOctets = 0
    size += 2
  }

  /** Input octets seen so far, and where the first NUL and 8-bit octets were. */
  let seen = 0
  let nul: number | undefined = undefined
  let eightBit: number | undefined = undefined

  /**
   * The fast path, one loop over the chunk: when every break in it is a CRLF
   * wholly inside it and no line starts with a dot to double, the chunk is
   * already what goes on the wire and is handed on as it is, not copied (a
   * stream hands its chunks over, as Node's streams do). Returns whether it
   * was; if not, nothing but the NUL and 8-bit offsets is recorded and the
   * chunk takes the slow path.
   */
  const passThrough = (chunk: Uint8Array): boolean => {
    const length = chunk.length
    let clean = !pendingCR && !(stuffDots && atLineStart && length > 0 && chunk[0] === DOT)
    let ended = 0
    let lineStart = 0
    let octets = lineOctets
    let firstLong: LongLine | undefined = undefined
    // Four octets at a time where the buffer allows: a word with no octet
    // under 14 (CR, LF, NUL and the other controls) and none over 127 is
    // skipped whole, so the loop below stops only near a line break.
    const head = Math.min(length, (4 - (chunk.byteOffset & 3)) & 3)
    const count = (length - head) >>> 2
    // (A view may only start on a multiple of 4, even an empty one.)
    const words = count === 0 ? noWords : new Uint32Array(chunk.buffer, chunk.byteOffset + head, count)
    const wordsEnd = head + words.length * 4
    let i = 0
    while (i < length) {
      if (i >= head && i < wordsEnd && ((i - head) & 3) === 0) {
        const word = words[(i - head) >>> 2]
        // Exact for "any octet < 14 or > 127": without such an octet no borrow crosses octets.
        if ((((word - 0x0e0e0e0e) | word) & 0x80808080) === 0) {
          i += 4
          continue
        }
      }
      const b = chunk[i]
      if (b > CR && b < 0x80) {
        i++
        continue
      }
      if (b === CR && clean) {
        if (chunk[i + 1] !== LF) {
          clean = false // a lone CR, or one whose LF is in the next chunk
          i++
          continue
        }
        octets += i - lineStart
        if (firstLong === undefined && octets > maxLineOctets) firstLong = { line: lines + ended + 1, octets }
        ended++
        octets = 0
        i += 2
        lineStart = i
        if (stuffDots && chunk[lineStart] === DOT) clean = false
        continue
      }
      if (b === LF) {
        clean = false // a lone LF
      } else if (b === 0) {
        if (nul === undefined) nul = seen + i
      } else if (b >= 0x80) {
        if (eightBit === undefined) eightBit = seen + i
      }
      i++
    }
    seen += length
    if (!clean) return false
    octets += length - lineStart
    if (firstLong === undefined && octets > maxLineOctets) firstLong = { line: lines + ended + 1, octets }
    if (long === undefined) long = firstLong
    lines += ended
    lineOctets = octets
    size += length
    if (length > 0) atLineStart = lineStart === length
    return true
  }

  /** The slow path: a chunk that needs a change (a lone break, a dot to double, a CR held over) is copied. */
  const rewrite = (chunk: Uint8Array): Uint8Array => {
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
      lineEnded()
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
        lineOctets += lineEnd - i
        size += lineEnd - i
        if (long === undefined && lineOctets > maxLineOctets) long = { line: lines + 1, octets: lineOctets }
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
      lineEnded()
      i += chunk[i] === CR && chunk[i + 1] === LF ? 2 : 1
    }
    return out.subarray(0, o)
  }

  const write = (chunk: Uint8Array): Uint8Array => passThrough(chunk) ? chunk : rewrite(chunk)

  const end = (): Uint8Array => {
    const tail: Array<number> = []
    if (pendingCR || !atLineStart) {
      tail.push(CR, LF)
      size += 2
    }
    pendingCR = false
    atLineStart = true
    if (stuffDots) tail.push(DOT, CR, LF)
    return Uint8Array.from(tail)
  }

  return { write, end, longLine: () => long, size: () => size, nul: () => nul, eightBit: () => eightBit }
}

/**
 * RFC 5322 §2.1.1 (and RFC 5321 §4.5.3.1.6): a line is at most 998 octets,
 * its CRLF (and a dot doubled for DATA) not counted. Longer lines are folded
 * or refused by some servers, which breaks signatures or loses the message.
 *
 * @internal
 */
export const maxLineOctets = 998

/**
 * The first line longer than `maxLineOctets`: its number (from 1) and length.
 *
 * @internal
 */
export interface LongLine {
  readonly line: number
  readonly octets: number
}

/**
 * What one pass over a whole message learns: its canonical size, whether it
 * has 8-bit bytes, whether it is already what goes on the wire, and its first
 * over-long line.
 *
 * @internal
 */
export interface Scan {
  /** The body as canonical CRLF text, ending in a line break: what SIZE declares. */
  readonly size: number
  readonly eightBit: boolean
  /** Every CR is followed by LF and every LF preceded by CR. */
  readonly canonical: boolean
  /** Some line starts with a dot (DATA must double it). */
  readonly leadingDot: boolean
  /** Empty, or ends with a line break. */
  readonly endsWithBreak: boolean
  readonly longLine: LongLine | undefined
  /** The offset of the first NUL octet, if any: RFC 5322 §3.5 text and RFC 2045 7bit/8bit data exclude it. */
  readonly nul: number | undefined
}

/** @internal */
export const scan = (body: Uint8Array): Scan => {
  let size = 0
  let eightBit = false
  let canonical = true
  let leadingDot = false
  let atLineStart = true
  let lines = 0
  let lineStart = 0
  let longLine: LongLine | undefined = undefined
  const nulAt = body.indexOf(0)
  for (let i = 0; i < body.length; i++) {
    const b = body[i]
    if (b === CR || b === LF) {
      lines++
      if (longLine === undefined && i - lineStart > maxLineOctets) longLine = { line: lines, octets: i - lineStart }
      if (b === CR && body[i + 1] === LF) i++
      else canonical = false
      size += 2
      atLineStart = true
      lineStart = i + 1
    } else {
      if (atLineStart && b === DOT) leadingDot = true
      if (b > 0x7f) eightBit = true
      size += 1
      atLineStart = false
    }
  }
  if (longLine === undefined && body.length - lineStart > maxLineOctets) {
    longLine = { line: lines + 1, octets: body.length - lineStart }
  }
  return {
    size: atLineStart ? size : size + 2,
    eightBit,
    canonical,
    leadingDot,
    endsWithBreak: atLineStart,
    longLine,
    nul: nulAt === -1 ? undefined : nulAt
  }
}

/**
 * `scan` of `text`'s UTF-8 `bytes`, read off the string with one native
 * search per line instead of a loop over every byte: for canonical text (the
 * usual message: CRLF lines) whose lines cannot be too long, the same facts.
 * Anything else is scanned byte by byte. The text is 8-bit exactly when its
 * UTF-8 form is longer than it (every non-ASCII code unit takes more octets).
 *
 * @internal
 */
export const scanText = (text: string, bytes: Uint8Array): Scan => {
  const eightBit = bytes.length !== text.length
  // A NUL is rare and refused: its octet offset is counted by the byte scan.
  if (text.includes("\0")) return scan(bytes)
  // A line of 999 code units is over 998 octets; in non-ASCII text (up to 3
  // octets a code unit) one of 333 may be: those are counted exactly.
  const limit = eightBit ? 332 : maxLineOctets
  let leadingDot = false
  let start = 0
  let cr = text.indexOf("\r")
  for (let lf = text.indexOf("\n"); lf !== -1; lf = text.indexOf("\n", start)) {
    // Canonical: the next CR is the one just before this LF.
    if (lf === 0 || cr !== lf - 1 || lf - 1 - start > limit) return scan(bytes)
    if (text.charCodeAt(start) === DOT) leadingDot = true
    start = lf + 1
    cr = text.indexOf("\r", start)
  }
  if (cr !== -1 || text.length - start > limit) return scan(bytes)
  const endsWithBreak = start === text.length
  if (!endsWithBreak && text.charCodeAt(start) === DOT) leadingDot = true
  return {
    size: endsWithBreak ? bytes.length : bytes.length + 2,
    eightBit,
    canonical: true,
    leadingDot,
    endsWithBreak,
    longLine: undefined,
    nul: undefined
  }
}

/**
 * The number of bytes the encoder adds no dots to: the size of the body as
 * canonical CRLF text, which is what the SIZE parameter declares.
 *
 * @internal
 */
export const canonicalSize = (body: Uint8Array): number => scan(body).size

const lineBreak = Uint8Array.of(CR, LF)
const lineBreakDot = Uint8Array.of(CR, LF, DOT, CR, LF)
const dotLine = Uint8Array.of(DOT, CR, LF)
const empty = new Uint8Array(0)

/**
 * A whole message as it goes on the wire, in one buffer: `header` (a BDAT
 * line), the encoded body with its end, then `ahead` (the next message's
 * commands, RFC 2920 §3.1). The same bytes as `make`'s `write` and `end`;
 * a message that needs no change (the usual case) is copied, not re-encoded.
 *
 * @param header computed from the body's encoded length, which it is given.
 * @internal
 */
export const encodeWhole = (
  body: Uint8Array,
  facts: Scan,
  stuffDots: boolean,
  ahead: Uint8Array | undefined,
  header?: (encodedLength: number) => Uint8Array
): { readonly bytes: Uint8Array; readonly bodyLength: number } => {
  let encoded: Uint8Array
  let tail: Uint8Array
  if (facts.canonical && !(stuffDots && facts.leadingDot)) {
    encoded = body
    tail = facts.endsWithBreak ? (stuffDots ? dotLine : empty) : (stuffDots ? lineBreakDot : lineBreak)
  } else {
    const encoder = make(stuffDots)
    encoded = encoder.write(body)
    tail = encoder.end()
  }
  const bodyLength = encoded.length + tail.length
  const head = header === undefined ? empty : header(bodyLength)
  const bytes = slab.allocate(head.length + bodyLength + (ahead?.length ?? 0))
  bytes.set(head, 0)
  bytes.set(encoded, head.length)
  bytes.set(tail, head.length + encoded.length)
  if (ahead !== undefined) bytes.set(ahead, head.length + bodyLength)
  return { bytes, bodyLength }
}
