import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as dataEncoder from "../src/internal/dataEncoder.js"
import { splitAt } from "./utils/split.js"

const CR = 0x0d
const LF = 0x0a
const DOT = 0x2e

/** Bodies rich in what smuggling rides on: dots, lone CR, lone LF, CR.CR, LF.LF. */
export const hostileBody: FastCheck.Arbitrary<Uint8Array> = FastCheck.array(
  FastCheck.oneof(
    { weight: 6, arbitrary: FastCheck.constantFrom(CR, LF, DOT) },
    { weight: 3, arbitrary: FastCheck.integer({ min: 0, max: 255 }) },
    { weight: 1, arbitrary: FastCheck.constant(0x61) }
  ),
  { maxLength: 200 }
).map((bytes) => Uint8Array.from(bytes))

/** The reference: every lone CR and lone LF becomes CRLF, CRLF stays. */
export const normalise = (input: Uint8Array): Array<number> => {
  const out: Array<number> = []
  for (let i = 0; i < input.length; i++) {
    const b = input[i]!
    if (b === CR) {
      out.push(CR, LF)
      if (input[i + 1] === LF) i++
    } else if (b === LF) out.push(CR, LF)
    else out.push(b)
  }
  return out
}

export const encodeAll = (stuffDots: boolean, chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const body = dataEncoder.make(stuffDots)
  const parts = [...chunks.map((c) => body.write(c)), body.end()]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
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

/** Where the end-of-data sequence first ends: "CRLF.CRLF", or ".CRLF" at the very start. */
export const firstTerminatorEnd = (bytes: Uint8Array): number => {
  if (bytes[0] === DOT && bytes[1] === CR && bytes[2] === LF) return 3
  for (let i = 0; i + 4 < bytes.length; i++) {
    if (bytes[i] === CR && bytes[i + 1] === LF && bytes[i + 2] === DOT && bytes[i + 3] === CR && bytes[i + 4] === LF) {
      return i + 5
    }
  }
  return -1
}

/** What a server stores: lines with one leading dot removed, up to the terminator. */
export const unstuff = (bytes: Uint8Array): Array<number> => {
  const out: Array<number> = []
  let atLineStart = true
  for (let i = 0; i < bytes.length - 3; i++) {
    const b = bytes[i]!
    if (!(atLineStart && b === DOT)) out.push(b)
    atLineStart = b === LF
  }
  return out
}

const cuts = FastCheck.array(FastCheck.nat(), { maxLength: 10 })

describe("DATA encoder", () => {
  it.prop(
    "for arbitrary bytes split arbitrarily: no bare CR or LF, exactly one end-of-data at the very end, and un-stuffing gives back the CRLF-normalised input",
    [hostileBody, cuts],
    ([body, at]) => {
      const wire = encodeAll(true, splitAt(body, at))
      expect(hasNoBareBreak(wire)).toBe(true)
      expect(firstTerminatorEnd(wire)).toBe(wire.length)
      const expected = normalise(body)
      if (expected.length > 0 && !(expected.at(-2) === CR && expected.at(-1) === LF)) expected.push(CR, LF)
      expect(unstuff(wire)).toEqual(expected)
    },
    { fastCheck: { numRuns: 5000 } }
  )

  it.prop(
    "chunk invariance: the bytes on the wire do not depend on where the body is split",
    [hostileBody, cuts],
    ([body, at]) => {
      expect(encodeAll(true, splitAt(body, at))).toEqual(encodeAll(true, [body]))
      expect(encodeAll(false, splitAt(body, at))).toEqual(encodeAll(false, [body]))
    },
    { fastCheck: { numRuns: 2000 } }
  )

  it.prop(
    "BDAT mode: normalised, never stuffed, ends in CRLF, and canonicalSize is its exact length",
    [hostileBody, cuts],
    ([body, at]) => {
      const wire = encodeAll(false, splitAt(body, at))
      expect(hasNoBareBreak(wire)).toBe(true)
      const expected = normalise(body)
      if (expected.length > 0 && !(expected.at(-2) === CR && expected.at(-1) === LF)) expected.push(CR, LF)
      expect(Array.from(wire)).toEqual(expected)
      expect(dataEncoder.canonicalSize(body)).toBe(wire.length)
    },
    { fastCheck: { numRuns: 2000 } }
  )

  it("the smuggling sequences of CVE-2023-51764 never end the data early", () => {
    const text = new TextEncoder()
    for (const attack of ["a\n.\r\nMAIL FROM:<x>\r\n", "a\r.\rMAIL FROM:<x>", "a\r\n.\nRCPT", "a\n.\n"]) {
      const wire = encodeAll(true, [text.encode(attack)])
      expect(firstTerminatorEnd(wire)).toBe(wire.length)
    }
  })

  it("an empty body is just the terminator", () => {
    expect(Array.from(encodeAll(true, []))).toEqual([DOT, CR, LF])
  })
})
