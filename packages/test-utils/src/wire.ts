/**
 * Byte-level helpers for the smuggling tests of the client, node and testing
 * packages: bodies rich in what SMTP smuggling rides on, splitting at chunk
 * boundaries, and the reference of what a correct client puts on the wire.
 *
 * The reference (`canonical`, `referenceEncoding`, `unstuff`) is written
 * here from RFC 5321 independently of the client's encoder, byte by byte and
 * without its fast paths: an oracle that shares no code with what it judges.
 */
import * as fc from "fast-check"

export const CR = 0x0d
export const LF = 0x0a
export const DOT = 0x2e

const ascii = (text: string): ReadonlyArray<number> => Array.from(text, (c) => c.charCodeAt(0))

/** The end-of-data forms of CVE-2023-51764/5/6 and their relatives, as whole tokens. */
const smugglingTokens: ReadonlyArray<ReadonlyArray<number>> = [
  "\r\n.\r\n",
  "\n.\r\n",
  "\r.\r",
  "\n.\n",
  "\r\n.\n",
  "\n.\r",
  "\r.\r\n",
  ".\r\n",
  "..",
  "\r\n..\r\n",
  "\rMAIL FROM:<evil@example.com>\r",
  "\nRCPT TO:<victim@example.com>\n",
  "\r\r\n\n"
].map(ascii)

/**
 * Bodies rich in dots, lone CR, lone LF, CR.CR and LF.LF, plus any byte:
 * tokens from the smuggling forms mixed with single bytes.
 */
export const hostileBody: fc.Arbitrary<Uint8Array> = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...smugglingTokens) },
    { weight: 4, arbitrary: fc.constantFrom(CR, LF, DOT).map((b) => [b]) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 255 }).map((b) => [b]) },
    { weight: 1, arbitrary: fc.constant(ascii("text")) }
  ),
  { maxLength: 40 }
).map((parts) => Uint8Array.from(parts.flat()))

/** Cut points for `splitAt`. */
export const cuts: fc.Arbitrary<ReadonlyArray<number>> = fc.array(fc.nat(), { maxLength: 12 })

/** Splits bytes at the given cut points (any, deduplicated, in order); empty chunks included. */
export const splitAt = (bytes: Uint8Array, at: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(at.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let start = 0
  for (const p of points) {
    chunks.push(bytes.subarray(start, p))
    start = p
  }
  chunks.push(bytes.subarray(start))
  return chunks
}

/** The reference: every lone CR and lone LF becomes CRLF, and the text ends with a line break. */
export const canonical = (input: Uint8Array): Array<number> => {
  const out: Array<number> = []
  for (let i = 0; i < input.length; i++) {
    const b = input[i]!
    if (b === CR) {
      out.push(CR, LF)
      if (input[i + 1] === LF) i++
    } else if (b === LF) out.push(CR, LF)
    else out.push(b)
  }
  if (out.length > 0 && !(out[out.length - 2] === CR && out[out.length - 1] === LF)) out.push(CR, LF)
  return out
}

/** Every CR is followed by LF and every LF preceded by CR. */
export const hasNoBareBreak = (bytes: Uint8Array): boolean => {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === CR && bytes[i + 1] !== LF) return false
    if (bytes[i] === LF && (i === 0 || bytes[i - 1] !== CR)) return false
  }
  return true
}

/**
 * Where the first end-of-data a lenient server would accept ends: `CRLF.CRLF`,
 * `.CRLF` at the very start, and the smuggling forms `LF.CRLF`, `LF.LF`,
 * `CR.CR`, `CRLF.LF` (any break, a dot, any break). -1 when there is none.
 */
export const firstLenientEnd = (bytes: Uint8Array): number => {
  const breakAt = (i: number): number =>
    bytes[i] === CR && bytes[i + 1] === LF ? 2 : bytes[i] === CR || bytes[i] === LF ? 1 : 0
  if (bytes[0] === DOT) {
    const after = breakAt(1)
    if (after > 0) return 1 + after
  }
  for (let i = 0; i < bytes.length; i++) {
    const before = breakAt(i)
    if (before === 0) continue
    if (bytes[i + before] !== DOT) continue
    const after = breakAt(i + before + 1)
    if (after > 0) return i + before + 1 + after
  }
  return -1
}

/** Un-stuffs a DATA body up to its terminator, as a server stores it. */
export const unstuff = (bytes: Uint8Array): Array<number> => {
  const out: Array<number> = []
  let atLineStart = true
  for (let i = 0; i < bytes.length - 3; i++) {
    const b = bytes[i]!
    if (!(atLineStart && b === DOT)) out.push(b)
    atLineStart = b === LF && i > 0 && bytes[i - 1] === CR
  }
  return out
}

/**
 * The reference wire form of a body: `canonical` (RFC 5321 §2.3.8), then for
 * DATA a "." doubled at the start of every line and the `.CRLF` that ends the
 * data (§4.5.2); BDAT carries the canonical text as it is.
 */
export const referenceEncoding = (stuffDots: boolean, body: Uint8Array): Uint8Array => {
  const text = canonical(body)
  if (!stuffDots) return Uint8Array.from(text)
  const out: Array<number> = []
  let atLineStart = true
  for (let i = 0; i < text.length; i++) {
    const b = text[i]!
    if (atLineStart && b === DOT) out.push(DOT)
    out.push(b)
    atLineStart = b === LF && text[i - 1] === CR
  }
  out.push(DOT, CR, LF)
  return Uint8Array.from(out)
}

export const equalBytes = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const show = (bytes: ArrayLike<number>): string => JSON.stringify(String.fromCharCode(...Array.from(bytes)))

/**
 * Plain checks, failing with the bytes shown: `expect` per case would cost
 * more than the encoding it checks, and the smuggling case counts are large.
 */
export const check = (condition: boolean, what: string, wire: ArrayLike<number>, input: ArrayLike<number>) => {
  if (!condition) throw new Error(`${what}\n  input: ${show(input)}\n  wire:  ${show(wire)}`)
}

/** The checks on a DATA body as written: one end-of-data, at the end; no bare CR/LF; the right content. */
export const checkDataBody = (wire: Uint8Array, input: Uint8Array) => {
  check(hasNoBareBreak(wire), "a bare CR or LF on the wire", wire, input)
  check(firstLenientEnd(wire) === wire.length, "an end-of-data before the real one", wire, input)
  check(equalBytes(unstuff(wire), canonical(input)), "the server would not store the canonical body", wire, input)
}

/** BDAT carries the body by length: canonical CRLF text, never stuffed. */
export const checkBdatBody = (data: Uint8Array, input: Uint8Array) => {
  check(hasNoBareBreak(data), "a bare CR or LF on the wire", data, input)
  check(equalBytes(data, canonical(input)), "the chunks do not hold the canonical body", data, input)
}
