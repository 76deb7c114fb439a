/**
 * The signer's streaming pieces against whole-text references: line-break
 * normalisation (as the SMTP client sends them) and DKIM canonicalisation
 * (RFC 6376 §3.4, with its example of §3.4.5), whatever the chunking.
 */
import { DkimCrypto } from "@effect-smtp/message"
import { effectProp, fc } from "@effect-smtp/test-utils/property"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import { bodyHasher, canonicalHeader, type Canonicalization } from "../src/internal/dkimCanonical.js"
import { parseFields } from "../src/internal/dkimFields.js"
import { normaliser } from "../src/internal/lineBreaks.js"

const latin1 = (text: string) => Buffer.from(text, "latin1")

/** `text` cut at `cuts`, as bytes. */
const split = (text: string, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const bytes = latin1(text)
  const points = [0, ...cuts.map((c) => Math.min(c, bytes.length)).sort((a, b) => a - b), bytes.length]
  return points.slice(1).map((end, i) => new Uint8Array(bytes.subarray(points[i], end)))
}

const normalise = (chunks: ReadonlyArray<Uint8Array>): Array<Uint8Array> => {
  const lineBreaks = normaliser()
  return [...chunks.map(lineBreaks.write), lineBreaks.end()]
}

const join = (chunks: ReadonlyArray<Uint8Array>): string => Buffer.concat(chunks).toString("latin1")

/** RFC 6376 §3.4.3 and §3.4.4 on a whole body with CRLF line breaks. */
const reference = (mode: Canonicalization, body: string): string => {
  if (mode === "simple") return `${body.replace(/(\r\n)*$/, "")}\r\n`
  const lines = body.split("\r\n").map((line) => line.replace(/[ \t]+/g, " ").replace(/ $/, ""))
  const text = lines.join("\r\n").replace(/(\r\n)*$/, "")
  return text === "" ? "" : `${text}\r\n`
}

const streamed = (mode: Canonicalization, chunks: ReadonlyArray<Uint8Array>) => {
  const hasher = bodyHasher(mode, DkimCrypto.webCrypto.sha256())
  for (const chunk of chunks) hasher.write(chunk)
  const { hash, length } = hasher.end()
  return { hash: Buffer.from(hash).toString("hex"), length }
}

const sha256 = (text: string) => createHash("sha256").update(latin1(text)).digest("hex")

const text = fc.array(fc.constantFrom(" ", "\t", "\r", "\n", "\r\n", "a", "é", ".", "  b  "), {
  maxLength: 80
}).map((parts) => parts.join(""))
const cuts = fc.array(fc.nat({ max: 200 }), { maxLength: 8 })

describe("line breaks", () => {
  effectProp(
    "property: every CRLF, lone CR and lone LF becomes CRLF, a final line break is added, wherever the chunks are cut; no chunk ends inside a CRLF",
    { text, cuts },
    ({ cuts, text }) =>
      Effect.sync(() => {
        const chunks = normalise(split(text, cuts))
        const expected = text.replace(/\r\n|\r|\n/g, "\r\n")
        expect(join(chunks)).toBe(expected === "" || expected.endsWith("\r\n") ? expected : `${expected}\r\n`)
        for (const chunk of chunks) expect(chunk.at(-1)).not.toBe(13)
      })
  )
})

describe("body canonicalisation", () => {
  effectProp(
    "property: the streamed hash and length are those of the whole-text canonical body, in both modes, wherever the chunks are cut",
    { text, cuts },
    ({ cuts, text }) =>
      Effect.sync(() => {
        const chunks = normalise(split(text, cuts))
        const body = join(chunks)
        for (const mode of ["simple", "relaxed"] as const) {
          const canonical = reference(mode, body)
          expect(streamed(mode, chunks)).toEqual({ hash: sha256(canonical), length: canonical.length })
        }
      })
  )

  it("RFC 6376 §3.4.5's example body", () => {
    const body = latin1(" C \r\nD \t E\r\n\r\n\r\n")
    expect(streamed("relaxed", [body])).toEqual({ hash: sha256(" C\r\nD E\r\n"), length: 9 })
    expect(streamed("simple", [body])).toEqual({ hash: sha256(" C \r\nD \t E\r\n"), length: 12 })
  })

  it("empty bodies: simple hashes a CRLF, relaxed nothing (RFC 6376 §3.4.3, §3.4.4)", () => {
    expect(streamed("simple", [])).toEqual({ hash: sha256("\r\n"), length: 2 })
    expect(streamed("relaxed", [])).toEqual({ hash: sha256(""), length: 0 })
    expect(streamed("relaxed", [latin1(" \t\r\n\r\n")])).toEqual({ hash: sha256(""), length: 0 })
  })
})

describe("header canonicalisation", () => {
  it("RFC 6376 §3.4.5's example header fields", () => {
    const fields = parseFields("A: X\r\nB : Y\t\r\n\tZ  \r\n")
    expect(fields.map((f) => f.name)).toEqual(["a", "b"])
    expect(fields.map((f) => canonicalHeader("relaxed", f.raw)).join("")).toBe("a:X\r\nb:Y Z\r\n")
    expect(fields.map((f) => canonicalHeader("simple", f.raw)).join("")).toBe("A: X\r\nB : Y\t\r\n\tZ  \r\n")
  })

  it("relaxed lower-cases ASCII letters of the name only, and keeps 8-bit octets of the value", () => {
    const field = Buffer.from("X-ÀB: Grüße  à\t", "utf8").toString("latin1")
    expect(latin1(canonicalHeader("relaxed", field))).toEqual(Buffer.from("x-Àb:Grüße à\r\n", "utf8"))
  })
})
