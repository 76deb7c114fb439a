/**
 * The comparison every interop test relies on: if `normalised` or
 * `expectStoredCopy` were wrong, a server test could pass on a mangled copy.
 * No server needed.
 */
import { fc, prop } from "@effect-smtp/test-utils/property"
import { describe, expect, it } from "@effect/vitest"
import { expectSameBytes, expectStoredCopy, headers, normalised } from "./mail.js"

/** Text made of what matters here: line-break bytes, dots, ASCII and 8-bit characters. */
const body = fc.array(fc.constantFrom("a", ".", "\r", "\n", "\r\n", "ü", "日", " "), { maxLength: 60 }).map((parts) =>
  parts.join("")
)

/** The definition, written the obvious way. */
const reference = (content: string, lineEnd: "\n" | "\r\n"): string => {
  const lines = content.replace(/\r\n|\r|\n/g, lineEnd)
  return content === "" || /[\r\n]$/.test(content) ? lines : lines + lineEnd
}

describe("interop comparison", () => {
  prop("normalised agrees with the regular-expression definition for both line ends", [body], ([content]) => {
    expect(normalised(content, "\n").toString("utf8")).toBe(reference(content, "\n"))
    expect(normalised(content, "\r\n").toString("utf8")).toBe(reference(content, "\r\n"))
  })

  prop("Uint8Array content normalises like the same string", [body], ([content]) => {
    expect(normalised(new TextEncoder().encode(content), "\n").equals(normalised(content, "\n"))).toBe(true)
  })

  it("a stored copy that differs by one byte fails, naming the offset; the trace headers above it are returned", () => {
    const content = headers("t") + "line one\r\nline two\r\n"
    const stored = Buffer.from("Return-path: <x@y>\nReceived: by test\n" + normalised(content, "\n").toString("utf8"))
    expect(expectStoredCopy(stored, content, "\n").added).toBe("Return-path: <x@y>\nReceived: by test\n")
    const altered = Buffer.from(stored)
    altered[altered.length - 3] = "X".charCodeAt(0)
    expect(() => expectStoredCopy(altered, content, "\n")).toThrow(`first difference at byte`)
    expect(() => expectStoredCopy(Buffer.from("Received: by test\n\nno original here\n"), content, "\n")).toThrow(
      "the original headers are not in the stored copy"
    )
  })

  it("expectSameBytes names the first differing byte", () => {
    expect(() => expectSameBytes(Buffer.from("abcdef"), Buffer.from("abcXef"), "copy")).toThrow(
      "first difference at byte 3"
    )
    expect(() => expectSameBytes(Buffer.from("abc"), Buffer.from("abc"), "copy")).not.toThrow()
  })
})
