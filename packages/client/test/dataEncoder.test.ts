import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as dataEncoder from "../src/internal/dataEncoder.js"
import {
  canonical,
  CR,
  DOT,
  encodeAll,
  firstLenientEnd,
  hasNoBareBreak,
  hostileBody,
  LF,
  splitAt,
  unstuff
} from "./utils/wire.js"

const cuts = FastCheck.array(FastCheck.nat(), { maxLength: 10 })

describe("DATA encoder", () => {
  it.prop(
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
      expect(Array.from(wire)).toEqual(canonical(body))
      expect(dataEncoder.canonicalSize(body)).toBe(wire.length)
    },
    { fastCheck: { numRuns: 2000 } }
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
})
