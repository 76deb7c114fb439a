/**
 * The engine's reading of a DATA body, wherever it runs: for any body the
 * client's encoder puts on the wire, split anywhere, the server finds the end
 * exactly at the terminator and stores the canonical body (dot-stuffing
 * undone), and what follows the terminator is left for the next command.
 */
import { effectProp } from "@effect-smtp/test-utils/property"
import { canonical, cuts, hostileBody, referenceEncoding, splitAt } from "@effect-smtp/test-utils/wire"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { BodyDecoder, ByteReader } from "../src/internal/reader.js"

const encoder = new TextEncoder()

/** A reader over `chunks`, then the end of the stream. */
const readerOf = (chunks: ReadonlyArray<Uint8Array>) => {
  const queue = [...chunks]
  return new ByteReader(Effect.sync(() => queue.shift()))
}

describe("reading a DATA body", () => {
  effectProp(
    "for any body as a correct client encodes it (the reference encoding) and split anywhere, the decoded body is the canonical one and the next command follows",
    [hostileBody, cuts],
    ([body, at]) =>
      Effect.gen(function*() {
        const wire = new Uint8Array([...referenceEncoding(true, body), ...encoder.encode("QUIT\r\n")])
        const reader = readerOf(splitAt(wire, at))
        const decoder = new BodyDecoder(Number.MAX_SAFE_INTEGER, true)
        expect(yield* reader.readData(decoder)).toBe(true)
        expect(Array.from(decoder.decoded)).toEqual(canonical(body))
        expect(decoder.sent).toEqual(referenceEncoding(true, body))
        expect(yield* reader.readLine({ maxBytes: 1000, bareLf: false })).toBe("QUIT")
      }),
    { fastCheck: { numRuns: 300 } }
  )

  it.effect("a body cut off before its terminator is reported as unfinished", () =>
    Effect.gen(function*() {
      const decoder = new BodyDecoder(100)
      expect(yield* readerOf([encoder.encode("line\r\n.")]).readData(decoder)).toBe(false)
    }))

  it.effect("keeps at most `keep` bytes, and still reads to the end", () =>
    Effect.gen(function*() {
      const decoder = new BodyDecoder(4)
      const reader = readerOf([encoder.encode("abcdefgh\r\n.\r\nNOOP\r\n")])
      expect(yield* reader.readData(decoder)).toBe(true)
      expect(new TextDecoder().decode(decoder.decoded)).toBe("abcd")
      expect(yield* reader.readLine({ maxBytes: 100, bareLf: false })).toBe("NOOP")
    }))

  it.effect("a line past maxBytes is null; a bare LF ends a line only when asked", () =>
    Effect.gen(function*() {
      expect(yield* readerOf([encoder.encode("x".repeat(20))]).readLine({ maxBytes: 10, bareLf: true })).toBeNull()
      expect(yield* readerOf([encoder.encode("a\nb\r\n")]).readLine({ maxBytes: 100, bareLf: true })).toBe("a")
      expect(yield* readerOf([encoder.encode("a\nb\r\n")]).readLine({ maxBytes: 100, bareLf: false })).toBe("a\nb")
    }))
})
