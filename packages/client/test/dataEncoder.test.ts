import { fc, prop } from "@effect-smtp/test-utils/property"
import {
  canonical,
  CR,
  DOT,
  firstLenientEnd,
  hasNoBareBreak,
  hostileBody,
  LF,
  referenceEncoding,
  splitAt,
  unstuff
} from "@effect-smtp/test-utils/wire"
import { describe, expect, it } from "@effect/vitest"
import * as dataEncoder from "../src/internal/dataEncoder.js"
import { encodeAll } from "./utils/encoder.js"

const cuts = fc.array(fc.nat(), { maxLength: 10 })

/** Bodies as mail clients write them: CRLF lines, some starting with a dot, maybe no final break. */
const canonicalBody: fc.Arbitrary<Uint8Array> = fc.tuple(
  fc.array(fc.stringMatching(/^[^\r\n]*$/), { maxLength: 12 }),
  fc.boolean()
).map(([lines, finalBreak]) => new TextEncoder().encode(lines.join("\r\n") + (finalBreak ? "\r\n" : "")))

/**
 * Mail with lines long enough for the encoder's four-octets-at-a-time skip,
 * some starting with a dot, a tab, a NUL or an 8-bit octet.
 */
const longLinesBody: fc.Arbitrary<Uint8Array> = fc.tuple(
  fc.array(
    fc.tuple(fc.constantFrom("", ".", "\t", "\0", "é", "x"), fc.nat(120)).map(([first, n]) => first + "y".repeat(n)),
    { maxLength: 8 }
  ),
  fc.boolean()
).map(([lines, finalBreak]) => new TextEncoder().encode(lines.join("\r\n") + (finalBreak ? "\r\n" : "")))

describe("DATA encoder", () => {
  prop(
    "for arbitrary bytes split arbitrarily: no bare CR or LF, exactly one end-of-data at the very end, and un-stuffing gives back the CRLF-normalised input",
    [hostileBody, cuts],
    ([body, at]) => {
      const wire = encodeAll(true, splitAt(body, at))
      expect(hasNoBareBreak(wire)).toBe(true)
      expect(firstLenientEnd(wire)).toBe(wire.length)
      expect(unstuff(wire)).toEqual(canonical(body))
    },
    { fastCheck: { numRuns: 5000 } }
  )

  prop(
    "equals the reference: for arbitrary bytes split arbitrarily, DATA and BDAT bytes are test-utils' independent referenceEncoding",
    [hostileBody, cuts],
    ([body, at]) => {
      expect(encodeAll(true, splitAt(body, at))).toEqual(referenceEncoding(true, body))
      expect(encodeAll(false, splitAt(body, at))).toEqual(referenceEncoding(false, body))
    },
    { fastCheck: { numRuns: 2000 } }
  )

  prop(
    "equals the reference for mail as clients write it (CRLF lines, some dotted), split anywhere: the pass-through of clean chunks and the rewrite of the rest join seamlessly",
    [fc.oneof(canonicalBody, longLinesBody), cuts],
    ([body, at]) => {
      expect(encodeAll(true, splitAt(body, at))).toEqual(referenceEncoding(true, body))
      expect(encodeAll(false, splitAt(body, at))).toEqual(referenceEncoding(false, body))
    },
    { fastCheck: { numRuns: 2000 } }
  )

  prop(
    "zero copy: a chunk of whole CRLF lines none of which starts with a dot is handed on as the same buffer, for DATA and BDAT",
    [fc.array(fc.stringMatching(/^[^\r\n.][^\r\n]*$/), { minLength: 1, maxLength: 12 })],
    ([lines]) => {
      const chunk = new TextEncoder().encode(lines.map((line) => `${line}\r\n`).join(""))
      for (const stuffDots of [true, false]) {
        const encoder = dataEncoder.make(stuffDots)
        expect(encoder.write(chunk)).toBe(chunk)
        expect(encoder.write(chunk)).toBe(chunk)
      }
    }
  )

  prop(
    "streamed facts: wherever the body is split, the encoder's size after end, first NUL and first 8-bit offsets and first long line are the one-pass scan's",
    [
      fc.oneof(
        hostileBody,
        canonicalBody,
        longLinesBody,
        fc.integer({ min: 990, max: 1010 }).map((n) => new TextEncoder().encode(`a\r\n${"b".repeat(n)}\r\nc`))
      ),
      cuts
    ],
    ([body, at]) => {
      const facts = dataEncoder.scan(body)
      const high = body.findIndex((b) => b > 0x7f)
      for (const stuffDots of [true, false]) {
        const encoder = dataEncoder.make(stuffDots)
        for (const chunk of splitAt(body, at)) encoder.write(chunk)
        expect(encoder.nul()).toBe(facts.nul)
        expect(encoder.eightBit()).toBe(high === -1 ? undefined : high)
        expect(encoder.longLine()?.line).toBe(facts.longLine?.line)
        encoder.end()
        expect(encoder.size()).toBe(facts.size)
      }
    },
    { fastCheck: { numRuns: 3000 } }
  )

  prop(
    "chunk invariance: the bytes on the wire do not depend on where the body is split",
    [hostileBody, cuts],
    ([body, at]) => {
      expect(encodeAll(true, splitAt(body, at))).toEqual(encodeAll(true, [body]))
      expect(encodeAll(false, splitAt(body, at))).toEqual(encodeAll(false, [body]))
    },
    { fastCheck: { numRuns: 2000 } }
  )

  prop(
    "BDAT mode: normalised, never stuffed, ends in CRLF, and canonicalSize is its exact length",
    [hostileBody, cuts],
    ([body, at]) => {
      const wire = encodeAll(false, splitAt(body, at))
      expect(hasNoBareBreak(wire)).toBe(true)
      expect(Array.from(wire)).toEqual(canonical(body))
      expect(dataEncoder.canonicalSize(body)).toBe(wire.length)
    },
    { fastCheck: { numRuns: 2000 } }
  )

  prop(
    "a whole message in one buffer is exactly BDAT line + streamed encoding + the next group, for hostile and for already-canonical bodies",
    [fc.oneof(hostileBody, canonicalBody), fc.boolean(), fc.option(fc.uint8Array(), { nil: null })],
    ([body, stuffDots, after]) => {
      const streamed = encodeAll(stuffDots, [body])
      let announced = -1
      const whole = dataEncoder.encodeWhole(
        body,
        dataEncoder.scan(body),
        stuffDots,
        after ?? undefined,
        (length) => {
          announced = length
          return new TextEncoder().encode(`BDAT ${length} LAST\r\n`)
        }
      )
      const head = new TextEncoder().encode(`BDAT ${streamed.length} LAST\r\n`)
      expect(announced).toBe(streamed.length)
      expect(whole.bodyLength).toBe(streamed.length)
      expect(Array.from(whole.bytes)).toEqual([...head, ...streamed, ...(after ?? [])])
    },
    { fastCheck: { numRuns: 3000 } }
  )

  prop(
    "scan: the canonical size, 8-bit and leading-dot facts agree with the streamed encoding",
    [fc.oneof(hostileBody, canonicalBody)],
    ([body]) => {
      const facts = dataEncoder.scan(body)
      const bdat = encodeAll(false, [body])
      expect(facts.size).toBe(bdat.length)
      expect(facts.eightBit).toBe(body.some((b) => b > 0x7f))
      // Already canonical means the BDAT form is the body plus at most a final CRLF.
      expect(facts.canonical).toBe(
        Array.from(bdat.subarray(0, body.length)).join() === Array.from(body).join() &&
          bdat.length - body.length === (facts.endsWithBreak ? 0 : 2)
      )
      expect(facts.leadingDot).toBe(encodeAll(true, [body]).length > bdat.length + 3)
    },
    { fastCheck: { numRuns: 3000 } }
  )

  it("the smuggling sequences of CVE-2023-51764 never end the data early", () => {
    const text = new TextEncoder()
    for (const attack of ["a\n.\r\nMAIL FROM:<x>\r\n", "a\r.\rMAIL FROM:<x>", "a\r\n.\nRCPT", "a\n.\n"]) {
      const wire = encodeAll(true, [text.encode(attack)])
      expect(firstLenientEnd(wire)).toBe(wire.length)
    }
  })

  it("an empty body is just the terminator", () => {
    expect(Array.from(encodeAll(true, []))).toEqual([DOT, CR, LF])
  })

  prop(
    "long lines: the streaming encoder finds the first line over 998 octets wherever the body is split, the same line the one-pass scan finds, and the scan's length is that line's octets without its break",
    [
      fc.array(
        fc.tuple(fc.integer({ min: 0, max: 1200 }), fc.constantFrom("\r\n", "\n", "\r")),
        { maxLength: 6 }
      ),
      fc.integer({ min: 0, max: 1200 }),
      cuts
    ],
    ([lines, lastLine, at]) => {
      const text = lines.map(([n, br]) => "a".repeat(n) + br).join("") + "b".repeat(lastLine)
      const body = new TextEncoder().encode(text)
      // The lines as the wire has them: CRLF, a lone CR and a lone LF each end one.
      const lengths = text.split(/\r\n|\r|\n/).map((line) => line.length)
      const first = lengths.findIndex((n) => n > dataEncoder.maxLineOctets)
      const expected = first === -1 ? undefined : { line: first + 1, octets: lengths[first] }
      expect(dataEncoder.scan(body).longLine).toEqual(expected)
      for (const stuffDots of [true, false]) {
        const encoder = dataEncoder.make(stuffDots)
        for (const chunk of splitAt(body, at)) encoder.write(chunk)
        expect(encoder.longLine()?.line).toBe(expected?.line)
      }
    },
    { fastCheck: { numRuns: 1000 } }
  )

  prop(
    "scanText (the fast path for string content) gives exactly the one-pass byte scan's facts, for any text: line breaks of every kind, dots, non-ASCII, long lines",
    [
      fc.array(
        fc.oneof(
          fc.constantFrom("\r\n", "\n", "\r", ".", "..", "é", "δοκιμή", "😀", ""),
          fc.string({ maxLength: 20 }),
          fc.integer({ min: 300, max: 1100 }).map((n) => "a".repeat(n)),
          fc.integer({ min: 300, max: 400 }).map((n) => "é".repeat(n))
        ),
        { maxLength: 12 }
      )
    ],
    ([parts]) => {
      const text = parts.join("")
      const bytes = new TextEncoder().encode(text)
      expect(dataEncoder.scanText(text, bytes)).toEqual(dataEncoder.scan(bytes))
    },
    { fastCheck: { numRuns: 3000 } }
  )
})
