/**
 * One-click unsubscription (RFC 8058) and List-Unsubscribe (RFC 2369) from
 * the composer's `listUnsubscribe` option, read back by mailparser, and
 * covered by a DKIM signature that real verifiers check.
 */
import { MailMessage } from "@effect-smtp/message"
import { assert, describe, expect, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/testing/TestClock"
import { type ListHeaders, simpleParser } from "mailparser"
import { collect } from "./utils/messages.js"
import { ed25519Key, layer as verifiersLayer, rsaKey, Verifiers } from "./utils/verifiers.js"

const compose = (listUnsubscribe: MailMessage.ListUnsubscribe, more: Partial<MailMessage.MailMessage> = {}) =>
  MailMessage.compose({ from: "news@example.test", to: "rcpt@example.test", text: "Hi", listUnsubscribe, ...more })

const headerLines = (bytes: Uint8Array): Array<string> => {
  const text = Buffer.from(bytes).toString("latin1")
  return text.slice(0, text.indexOf("\r\n\r\n")).split("\r\n")
}

const listOf = (bytes: Uint8Array) =>
  Effect.promise(async () => (await simpleParser(Buffer.from(bytes))).headers.get("list") as ListHeaders | undefined)

describe("MailMessage.compose listUnsubscribe", () => {
  it.effect("an https URL and an address: List-Unsubscribe with both (the URL first) and List-Unsubscribe-Post", () =>
    Effect.gen(function*() {
      const composed = yield* compose({ url: "https://example.test/u/abc?list=7", mailto: "unsubscribe@example.test" })
      const bytes = yield* collect(composed.content)
      const lines = headerLines(bytes)
      // Over 78 columns on one line: folded between the two.
      const at = lines.indexOf("List-Unsubscribe: <https://example.test/u/abc?list=7>,")
      expect(lines[at + 1]).toBe(" <mailto:unsubscribe@example.test>")
      expect(lines).toContain("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
      const list = yield* listOf(bytes)
      expect(list?.unsubscribe).toEqual({ url: "https://example.test/u/abc?list=7", mail: "unsubscribe@example.test" })
    }))

  it.effect("a mailto alone: no List-Unsubscribe-Post, as one click needs an https URL", () =>
    Effect.gen(function*() {
      const lines = headerLines(
        yield* collect((yield* compose({ mailto: "mailto:leave@example.test?subject=stop" })).content)
      )
      expect(lines.filter((l) => l.startsWith("List-"))).toEqual([
        "List-Unsubscribe: <mailto:leave@example.test?subject=stop>"
      ])
    }))

  it.effect("a URL with oneClick: false: List-Unsubscribe alone", () =>
    Effect.gen(function*() {
      const lines = headerLines(
        yield* collect((yield* compose({ url: "https://example.test/u", oneClick: false })).content)
      )
      expect(lines.filter((l) => l.startsWith("List-"))).toEqual(["List-Unsubscribe: <https://example.test/u>"])
    }))

  it.effect("an address with URI-special and non-ASCII characters is percent-encoded in its mailto URI", () =>
    Effect.gen(function*() {
      const lines = headerLines(yield* collect((yield* compose({ mailto: "lé?ve+x%y@example.test" })).content))
      expect(lines).toContain("List-Unsubscribe: <mailto:l%C3%A9%3Fve%2Bx%25y@example.test>")
    }))

  it.effect("a long URL: the field folds between the URIs, never inside one", () =>
    Effect.gen(function*() {
      const url = `https://example.test/unsubscribe?token=${"a1".repeat(300)}`
      const bytes = yield* collect((yield* compose({ url, mailto: "u@example.test" })).content)
      const lines = headerLines(bytes)
      const at = lines.findIndex((l) => l.startsWith("List-Unsubscribe:"))
      expect(lines[at]).toBe(`List-Unsubscribe: <${url}>,`)
      expect(lines[at + 1]).toBe(" <mailto:u@example.test>")
      expect(lines.every((l) => l.length <= 998)).toBe(true)
      expect((yield* listOf(bytes))?.unsubscribe).toEqual({ url, mail: "u@example.test" })
    }))

  const refused: ReadonlyArray<readonly [string, MailMessage.ListUnsubscribe, string, RegExp]> = [
    ["an http URL", { url: "http://example.test/u" }, "listUnsubscribe.url", /RFC 8058 §3.1 requires HTTPS/],
    ["a URL with a comma", { url: "https://example.test/u?a=1,2" }, "listUnsubscribe.url", /%2C/],
    ["a URL with a space", { url: "https://example.test/u ok" }, "listUnsubscribe.url", /percent-encode/],
    [
      "a URL with a line break",
      { url: "https://example.test/u\r\nBcc: x@example.test" },
      "listUnsubscribe.url",
      /percent-encode/
    ],
    [
      "a URL too long for a line",
      { url: `https://example.test/${"x".repeat(900)}` },
      "listUnsubscribe.url",
      /at most 900/
    ],
    ["an address that is no address", { mailto: "not an address" }, "listUnsubscribe.mailto", /white space/],
    ["neither URL nor address", {}, "listUnsubscribe", /neither url nor mailto/],
    ["one click without a URL", { mailto: "u@example.test", oneClick: true }, "listUnsubscribe.oneClick", /https url/]
  ]
  for (const [name, option, field, reason] of refused) {
    it.effect(`refuses ${name}: InvalidInputError for ${field}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(compose(option))
        assert(error._tag === "InvalidInputError")
        expect(error.field).toBe(field)
        expect(error.reason).toMatch(reason)
      }))
  }

  it.effect("refuses List-Unsubscribe among the custom headers as well: the option writes it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        compose({ url: "https://example.test/u" }, {
          headers: { "list-unsubscribe-post": "List-Unsubscribe=One-Click" }
        })
      )
      assert(error._tag === "InvalidInputError")
      expect(error.field).toBe("headers[\"list-unsubscribe-post\"]")
      expect(error.reason).toMatch(/listUnsubscribe option/)
    }))
})

const rsa = rsaKey("example.test", "rsa")
const ed = ed25519Key("example.test", "ed")

layer(verifiersLayer, { timeout: 120_000 })("one-click unsubscription under DKIM, checked by real verifiers", (it) => {
  it.effect("both fields are signed: the message verifies, and a changed URL or a removed List-Unsubscribe-Post does not", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.now())
      const verifiers = yield* Verifiers
      for (const key of [rsa, ed]) {
        const composed = yield* compose({ url: "https://example.test/u/abc", mailto: "u@example.test" }, {
          dkim: { domain: key.domain, selector: key.selector, privateKey: Redacted.make(key.pem) }
        })
        const signed = Buffer.from(yield* collect(composed.content)).toString("latin1")
        const variants: ReadonlyArray<readonly [string, string, boolean]> = [
          ["as signed", signed, true],
          ["another URL", signed.replace("/u/abc", "/u/xyz"), false],
          [
            "no List-Unsubscribe-Post",
            signed.replace("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", ""),
            false
          ]
        ]
        for (const [what, message, passes] of variants) {
          if (!passes) expect(message, what).not.toBe(signed)
          const verdicts = yield* verifiers.verify(Buffer.from(message, "latin1"), [rsa, ed])
          for (const [verifier, results] of Object.entries(verdicts)) {
            expect(results.map((r) => r.ok), `${what}, ${verifier}: ${JSON.stringify(results)}`).toEqual([passes])
          }
        }
      }
    }))
})
