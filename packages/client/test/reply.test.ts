import { fc, prop } from "@effect-smtp/test-utils/property"
import { splitAt } from "@effect-smtp/test-utils/wire"
import { describe, expect, it } from "@effect/vitest"
import { render, type Reply, ReplyParser } from "../src/internal/reply.js"

const encoder = new TextEncoder()

type Parsed = { readonly replies: ReadonlyArray<Reply>; readonly error: string | undefined }

const parseChunks = (chunks: ReadonlyArray<Uint8Array>): Parsed => {
  const parser = new ReplyParser()
  const replies: Array<Reply> = []
  for (const chunk of chunks) {
    const error = parser.push(chunk)
    for (let r = parser.take(); r !== undefined; r = parser.take()) replies.push(r)
    if (error !== undefined) return { replies, error: error.reason }
  }
  return { replies, error: undefined }
}

/** Reply text: printable, no CR/LF, not itself starting like an enhanced code. */
const lineText = fc.stringMatching(/^[A-Za-z][ -~\u00e0-\u00ff]{0,60}$/)

const replyArb: fc.Arbitrary<Reply> = fc.integer({ min: 200, max: 599 }).chain((code) =>
  fc.record({
    code: fc.constant(code),
    // RFC 3463: enhanced codes exist for the success and failure classes only.
    enhancedCode: [2, 4, 5].includes(Math.floor(code / 100)) ?
      fc.option(
        fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 })).map(
          ([a, b]) => `${Math.floor(code / 100)}.${a}.${b}`
        ),
        { nil: undefined }
      ) :
      fc.constant(undefined),
    lines: fc.array(fc.oneof(lineText, fc.constant("")), { minLength: 1, maxLength: 6 })
  })
).map((r) => r.enhancedCode !== undefined && r.lines[0] === "" ? { ...r, lines: ["x", ...r.lines.slice(1)] } : r)

const cutsArb = fc.array(fc.nat(), { maxLength: 12 })

describe("ReplyParser", () => {
  prop(
    "round trip: any sequence of rendered replies, split at any bytes, parses back to the same replies",
    [fc.array(replyArb, { minLength: 1, maxLength: 5 }), cutsArb],
    ([replies, cuts]) => {
      const bytes = encoder.encode(replies.map(render).join(""))
      const parsed = parseChunks(splitAt(bytes, cuts))
      expect(parsed.error).toBeUndefined()
      expect(parsed.replies).toEqual(replies)
    },
    { fastCheck: { numRuns: 500 } }
  )

  prop(
    "chunk invariance: for any bytes at all, replies and errors do not depend on where the input is split",
    [
      fc.array(
        fc.oneof(
          replyArb.map(render),
          fc.constantFrom(
            "250-\r\n",
            "250 \r\n",
            "25",
            "0 ok\r\n",
            "\n",
            "\r",
            "999 x\r\n",
            "abc\r\n",
            // The start of a TLS handshake record and of an alert.
            "\u0016\u0003\u0001",
            "\u0015\u0003"
          ),
          fc.string({ maxLength: 20 })
        ),
        { maxLength: 8 }
      ),
      cutsArb
    ],
    ([parts, cuts]) => {
      const bytes = encoder.encode(parts.join(""))
      expect(parseChunks(splitAt(bytes, cuts))).toEqual(parseChunks([bytes]))
    },
    { fastCheck: { numRuns: 1000 } }
  )

  prop(
    "a TLS record where a reply begins fails as one, however it is split, and after any complete replies",
    [
      fc.array(replyArb.map(render), { maxLength: 3 }),
      fc.constantFrom(0x15, 0x16),
      fc.string({ maxLength: 20 }),
      cutsArb
    ],
    ([before, type, rest, cuts]) => {
      const bytes = new Uint8Array([...encoder.encode(before.join("")), type, 0x03, ...encoder.encode(rest)])
      const parser = new ReplyParser()
      let error: string | undefined = undefined
      for (const chunk of splitAt(bytes, cuts)) {
        const failed = parser.push(chunk)
        if (failed !== undefined) {
          error = failed.detail
          break
        }
      }
      expect(error).toContain("TLS record")
    },
    { fastCheck: { numRuns: 300 } }
  )

  it("reads smtp-sink's EHLO reply, whose last line is an empty `250 `", () => {
    const parsed = parseChunks([encoder.encode("250-sink\r\n250-PIPELINING\r\n250 \r\n")])
    expect(parsed.replies).toEqual([{ code: 250, enhancedCode: undefined, lines: ["sink", "PIPELINING", ""] }])
  })

  it("accepts a bare code and bare LF line ends", () => {
    expect(parseChunks([encoder.encode("250\n354 go\n")]).replies.map((r) => r.code)).toEqual([250, 354])
  })

  it("reads the enhanced status code", () => {
    const [reply] = parseChunks([encoder.encode("550-5.1.1 no such user\r\n550 5.1.1 really\r\n")]).replies
    expect(reply).toEqual({ code: 550, enhancedCode: "5.1.1", lines: ["no such user", "really"] })
  })

  it("rejects a reply whose lines change code, and lines without a code", () => {
    expect(parseChunks([encoder.encode("250-a\r\n251 b\r\n")]).error).toBe("MalformedReply")
    expect(parseChunks([encoder.encode("hello\r\n")]).error).toBe("MalformedReply")
    expect(parseChunks([encoder.encode("250xok\r\n")]).error).toBe("MalformedReply")
  })

  prop(
    "bounded: a line over 4 KiB fails as soon as 4 KiB arrive without a line end, in any chunking",
    [fc.integer({ min: 4097, max: 20_000 }), cutsArb],
    ([length, cuts]) => {
      const bytes = encoder.encode("250 " + "x".repeat(length))
      expect(parseChunks(splitAt(bytes, cuts)).error).toBe("ReplyTooLong")
    },
    { fastCheck: { numRuns: 50 } }
  )

  it("bounded: more than 1000 lines, or more than 64 KiB, in one reply is an error", () => {
    expect(parseChunks([encoder.encode("250-x\r\n".repeat(1001) + "250 x\r\n")]).error).toBe("ReplyTooLong")
    const wide = `250-${"y".repeat(4000)}\r\n`
    expect(parseChunks([encoder.encode(wide.repeat(17) + "250 x\r\n")]).error).toBe("ReplyTooLong")
    expect(parseChunks([encoder.encode("250-x\r\n".repeat(999) + "250 x\r\n")]).error).toBeUndefined()
  })
})
