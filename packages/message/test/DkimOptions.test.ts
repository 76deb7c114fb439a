/**
 * What gets signed (h=, i=, the always-signed fields, over-signing, repeated
 * fields), the options' checks, and messages that cannot be signed.
 */
import type { Mail } from "@effect-smtp/client"
import { Dkim, DkimError, MailMessage } from "@effect-smtp/message"
import { assert, describe, expect, expectTypeOf, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
import { collect } from "./utils/messages.js"
import { ed25519Key, layer as verifiersLayer, type TestKey, Verifiers } from "./utils/verifiers.js"

const ed = ed25519Key("example.test", "ed")

const options = (more: Partial<Dkim.Options> = {}, key: TestKey = ed): Dkim.Options => ({
  domain: key.domain,
  selector: key.selector,
  privateKey: Redacted.make(key.pem),
  ...more
})

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1")

/** A tag of the first DKIM-Signature field, unfolded. */
const tag = (message: Uint8Array, name: string): string | undefined => {
  const field = /^DKIM-Signature:(.*(?:\r\n[ \t].*)*)/m.exec(text(message))?.[1]?.replace(/\r\n[ \t]/g, "")
  const value = field === undefined ? undefined : new RegExp(`(?:^|;)\\s*${name}=([^;]*)`).exec(field)?.[1]
  return value?.replace(/\s+/g, "")
}

const sign = (content: string, signWith: Dkim.SignWith) =>
  Effect.map(Dkim.sign({ content }, signWith), (signed) => signed.content)

describe("h=: the fields signed", () => {
  it.effect("by default: every present default field, the over-signed ones once more, From and the one-click pair", () =>
    Effect.gen(function*() {
      const composed = yield* MailMessage.compose({
        from: "news@example.test",
        to: "rcpt@example.test",
        subject: "Hello",
        text: "Hi",
        headers: { "X-Campaign": "42" },
        listUnsubscribe: { url: "https://example.test/u/1" },
        dkim: options()
      })
      expect(tag(yield* collect(composed.content), "h")).toBe(
        [
          "from:from:reply-to:subject:subject:date:date:message-id:message-id:to:to:cc",
          "mime-version:content-type:content-transfer-encoding",
          "list-unsubscribe:list-unsubscribe:list-unsubscribe-post:list-unsubscribe-post"
        ].join(":")
      )
    }))

  it.effect("given fields: those present, in that order; From is always signed, and the one-click pair when present", () =>
    Effect.gen(function*() {
      const plain = yield* sign(
        "From: a@example.test\r\nSubject: s\r\nX-Tag: t\r\n\r\nbody\r\n",
        options({ headers: ["X-Tag", "Subject", "X-Absent"], oversign: [] })
      )
      expect(tag(plain, "h")).toBe("x-tag:subject:from")
      const oneClick = yield* sign(
        "From: a@example.test\r\nList-Unsubscribe: <https://example.test/u>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n",
        options({ headers: ["Subject"], oversign: [] })
      )
      expect(tag(oneClick, "h")).toBe("from:list-unsubscribe:list-unsubscribe-post")
    }))

  it.effect("i= and x= when asked; l= is the canonical body's length", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_700_000_000_000)
      const signed = yield* sign(
        "From: a@example.test\r\n\r\nbody  with   spaces  \r\n\r\n\r\n",
        options({ identity: "news@mail.example.test", expiresIn: "2 days", bodyLength: true })
      )
      expect(tag(signed, "i")).toBe("news@mail.example.test")
      expect(tag(signed, "t")).toBe("1700000000")
      expect(tag(signed, "x")).toBe(String(1_700_000_000 + 2 * 86_400))
      // relaxed: "body with spaces\r\n"
      expect(tag(signed, "l")).toBe("18")
    }))

  it.effect("a declared size grows by what signing adds", () =>
    Effect.gen(function*() {
      const content = "From: a@example.test\r\n\r\nbody\r\n"
      const signed = yield* Dkim.sign(
        {
          from: "a@example.test",
          to: ["b@example.test"],
          content: Stream.make(new TextEncoder().encode(content)),
          size: 29
        },
        options()
      )
      expect(signed.size).toBe((yield* collect(signed.content)).length)
      const unsized = yield* Dkim.sign({ content }, options())
      expect("size" in unsized).toBe(false)
    }))
})

layer(verifiersLayer, { timeout: 120_000 })("repeated fields, checked by real verifiers", (it) => {
  it.effect("a field that occurs twice is signed bottom-up; swapping the two breaks the signature", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.now())
      const verifiers = yield* Verifiers
      const message = "From: a@example.test\r\nX-Tag: one\r\nSubject: s\r\nX-Tag: two\r\n\r\nbody\r\n"
      for (const canonicalization of ["relaxed/relaxed", "simple/simple"] as const) {
        const signed = yield* sign(message, options({ headers: ["x-tag"], oversign: ["x-tag"], canonicalization }))
        expect(tag(signed, "h")).toBe("x-tag:x-tag:x-tag:from")
        for (const results of Object.values(yield* verifiers.verify(signed, [ed]))) {
          expect(results.map((r) => r.ok), JSON.stringify(results)).toEqual([true])
        }
        const swapped = text(signed).replace("X-Tag: one", "X-Tag: TMP").replace("X-Tag: two", "X-Tag: one").replace(
          "X-Tag: TMP",
          "X-Tag: two"
        )
        for (const results of Object.values(yield* verifiers.verify(Buffer.from(swapped, "latin1"), [ed]))) {
          expect(results.map((r) => r.ok), JSON.stringify(results)).toEqual([false])
        }
      }
    }))
})

describe("options that are refused", () => {
  const cases: ReadonlyArray<readonly [string, Dkim.SignWith, string, RegExp]> = [
    ["a non-ASCII domain", options({ domain: "münchen.example" }), "dkim.domain", /A-label/],
    ["a domain with a space", options({ domain: "exa mple.test" }), "dkim.domain", /domain name/],
    ["a selector with a space", options({ selector: "bad selector" }), "dkim.selector", /selector/],
    [
      "a selector too long for DNS",
      options({ selector: Array(5).fill("s".repeat(60)).join(".") }),
      "dkim.selector",
      /at most 253/
    ],
    [
      "an unknown canonicalisation",
      options({ canonicalization: "relaxed" as Dkim.Canonicalization }),
      "dkim.canonicalization",
      /relaxed\/relaxed/
    ],
    ["a field name with a colon", options({ headers: ["From", "Bad:Name"] }), "dkim.headers[1]", /field name/],
    ["DKIM-Signature in h=", options({ headers: ["DKIM-Signature"] }), "dkim.headers[0]", /implicitly/],
    [
      "a field name longer than a line",
      options({ oversign: [`X-${"a".repeat(300)}`] }),
      "dkim.oversign[0]",
      /at most 200/
    ],
    ["an identity at another domain", options({ identity: "a@other.test" }), "dkim.identity", /subdomain/],
    ["an identity without @", options({ identity: "nobody" }), "dkim.identity", /user@example.com/],
    ["expiry at once", options({ expiresIn: "0 seconds" }), "dkim.expiresIn", /at least one second/],
    ["the second of two signers", [options(), options({ selector: "" })], "dkim[1].selector", /selector/],
    ["an empty list of signers", [], "dkim", /empty list/]
  ]
  for (const [name, signWith, field, reason] of cases) {
    it.effect(`${name}: InvalidInputError for ${field}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(sign("From: a@example.test\r\n\r\n", signWith))
        assert(error._tag === "InvalidInputError", String(error))
        expect(error.field).toBe(field)
        expect(error.reason).toMatch(reason)
      }))
  }

  it.effect("the composer checks its dkim option like the rest of its input", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(MailMessage.compose({
        from: "a@example.test",
        to: "b@example.test",
        dkim: options({ domain: "" })
      }))
      assert(error._tag === "InvalidInputError")
      expect(error.field).toBe("dkim.domain")
    }))
})

describe("messages that cannot be signed", () => {
  const cases: ReadonlyArray<readonly [string, string | Stream.Stream<Uint8Array>, DkimError.ContentProblem, RegExp]> =
    [
      ["no From field", "To: b@example.test\r\nSubject: s\r\n\r\nbody\r\n", "NoFrom", /no From header field/],
      ["nothing at all", "", "NoFrom", /no From header field/],
      [
        "two From fields",
        "From: a@example.test\r\nFrom: c@example.test\r\n\r\nbody\r\n",
        "SeveralFrom",
        /has 2 From header fields/
      ],
      [
        "a header block that never ends",
        Stream.range(1, 1100).pipe(Stream.map((i) => new TextEncoder().encode(`X-${i}: ${"x".repeat(1000)}\r\n`))),
        "HeaderTooLarge",
        /over 1048576 octets/
      ]
    ]
  for (const [name, content, reason, message] of cases) {
    it.effect(`${name}: DkimContentError ${reason}, before anything is sent`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Dkim.sign({ content }, options()))
        assert(error instanceof DkimError.DkimContentError, String(error))
        expect(error.reason).toBe(reason)
        expect(error.message).toMatch(message)
        expect(error.message).toContain("Nothing was sent")
      }))
  }
})

describe("types", () => {
  it("a signed message keeps its fields; its content is bytes for bytes or text, a stream for a stream", () => {
    type Failure = DkimError.DkimContentError
    expectTypeOf<Dkim.Signed<{ readonly content: string; readonly id: number }>>().toEqualTypeOf<
      { readonly content: Uint8Array; readonly id: number }
    >()
    expectTypeOf<Dkim.Signed<Mail>["content"]>().toEqualTypeOf<Uint8Array | Stream.Stream<Uint8Array, Failure>>()
    expectTypeOf<Dkim.Signed<MailMessage.Composed<Error>>["content"]>().toEqualTypeOf<
      Stream.Stream<Uint8Array, Error | Failure>
    >()
  })
})
