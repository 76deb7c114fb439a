import { SmtpClient } from "@effect-smtp/client"
import { MailMessage } from "@effect-smtp/message"
import { effectProp, fc } from "@effect-smtp/test-utils/property"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
import libmime from "libmime"
import { type AddressObject, simpleParser } from "mailparser"
import { collect, messageArbitrary, noControls, toMessage } from "./utils/messages.js"

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const parse = (bytes: Uint8Array) => Effect.promise(() => simpleParser(Buffer.from(bytes), { keepCidLinks: true }))

/** Every line ends in CRLF, none has a bare CR or LF, none is over 998 octets (RFC 5322 §2.1.1, §2.3). */
const expectWellFormedLines = (bytes: Uint8Array) => {
  const text = Buffer.from(bytes).toString("latin1")
  expect(text.endsWith("\r\n")).toBe(true)
  const lines = text.slice(0, -2).split("\r\n")
  for (const line of lines) {
    expect(line).not.toMatch(/[\r\n]/)
    expect(line.length).toBeLessThanOrEqual(998)
  }
  return lines
}

const headerBlock = (bytes: Uint8Array): string => {
  const text = Buffer.from(bytes).toString("latin1")
  return text.slice(0, text.indexOf("\r\n\r\n"))
}

const addressObjects = (value: AddressObject | Array<AddressObject> | undefined) =>
  (value === undefined ? [] : Array.isArray(value) ? value : [value]).flatMap((o) => o.value)

/**
 * The normalisation the round trip allows in bodies: line breaks of any kind
 * are sent as CRLF (text/* canonical form, RFC 2046 §4.1.1), and a message
 * whose only part is the text ends with a line break even when the text does
 * not (every line of a message ends with CRLF). So: every CRLF, CR and LF
 * becomes LF, and trailing LFs are not compared.
 */
const normaliseBody = (text: string): string => text.replace(/\r\n|\r|\n/g, "\n").replace(/\n+$/, "")

const mailbox = (address: MailMessage.Address) =>
  typeof address === "string" ? { address, name: "" } : { address: address.address, name: address.name ?? "" }

// ---------------------------------------------------------------------------
// Round trip through mailparser
// ---------------------------------------------------------------------------

describe("MailMessage.compose", () => {
  effectProp(
    "property: mailparser reads back the same from/to/cc/reply-to/subject/text/html, attachments (name, type, exact bytes, cid) and custom headers; no Bcc header; CRLF-only lines of at most 998 octets",
    { generated: messageArbitrary },
    ({ generated }) =>
      Effect.gen(function*() {
        const message = toMessage(generated)
        const composed = yield* MailMessage.compose(message)
        const bytes = yield* collect(composed.content)
        const lines = expectWellFormedLines(bytes)
        // 7-bit: every header and body is encoded.
        expect(bytes.every((b) => b < 0x80)).toBe(true)
        expect(lines.some((line) => /^bcc:/i.test(line))).toBe(false)

        const parsed = yield* parse(bytes)

        // Addresses: same address and display name, in order. mailparser trims
        // and collapses white space in display names, so the names are compared so normalised.
        const name = (n: string) => n.replace(/\s+/g, " ").trim()
        const same = (list: ReadonlyArray<MailMessage.Address>) =>
          list.map(mailbox).map((m) => ({ address: m.address, name: name(m.name) }))
        const got = (value: AddressObject | Array<AddressObject> | undefined) =>
          addressObjects(value).map((m) => ({ address: m.address, name: name(m.name) }))
        expect(got(parsed.from)).toEqual(same([generated.from]))
        expect(got(parsed.to)).toEqual(same(generated.to))
        expect(got(parsed.cc)).toEqual(same(generated.cc))
        expect(got(parsed.replyTo)).toEqual(same(generated.replyTo === undefined ? [] : [generated.replyTo]))
        expect(parsed.bcc).toBeUndefined()
        expect(parsed.headers.has("bcc")).toBe(false)

        // Subject: exact, but for surrounding white space, which header parsing drops, and
        // mailparser drops a header with an empty value: "" reads back as absent.
        if (generated.subject === undefined) expect(parsed.subject).toBeUndefined()
        else expect((parsed.subject ?? "").trim()).toBe(generated.subject.trim())

        if (generated.text !== undefined) expect(normaliseBody(parsed.text ?? "")).toBe(normaliseBody(generated.text))
        if (generated.html !== undefined) {
          expect(normaliseBody(parsed.html || "")).toBe(normaliseBody(generated.html))
        }

        // mailparser leaves headers it does not know encoded (so the RFC 2047 words are decoded
        // here), and drops those with an empty value.
        for (const [header, value] of generated.headers) {
          const raw = parsed.headers.get(header.toLowerCase()) ?? ""
          expect(typeof raw).toBe("string")
          expect(libmime.decodeWords(raw as string).trim()).toBe(value.trim())
        }

        // Attachments: inline ones (with an HTML body) come first, in the multipart/related.
        const inlineFirst = generated.html === undefined
          ? generated.attachments
          : [...generated.attachments.filter((a) => a.inline), ...generated.attachments.filter((a) => !a.inline)]
        expect(parsed.attachments.map((a) => ({
          filename: a.filename,
          contentType: a.contentType,
          bytes: [...a.content]
        }))).toEqual(inlineFirst.map((a) => ({
          filename: a.filename,
          contentType: a.contentType ?? libmime.detectMimeType(a.filename),
          bytes: [...a.data.bytes]
        })))
        expect(parsed.attachments.map((a) => a.cid)).toEqual(
          inlineFirst.map((a) => a.inline ? `part${generated.attachments.indexOf(a)}@example.test` : undefined)
        )

        // Envelope: from's address; every to, cc and bcc address once.
        expect(composed.envelope.from).toBe(mailbox(generated.from).address)
        const expectedTo: Array<string> = []
        for (const a of [...generated.to, ...generated.cc, ...generated.bcc].map((a) => mailbox(a).address)) {
          const key = (s: string) => s.slice(0, s.lastIndexOf("@")) + s.slice(s.lastIndexOf("@")).toLowerCase()
          if (!expectedTo.some((b) => key(b) === key(a))) expectedTo.push(a)
        }
        expect(composed.envelope.to).toEqual(expectedTo)
        expect(parsed.messageId).toBe(composed.messageId)
      }),
    { timeout: 120_000, fastCheck: { numRuns: 150 } }
  )

  effectProp(
    "property: where a stream attachment is split never changes the composed bytes (same seed for the random boundaries)",
    {
      bytes: fc.uint8Array({ maxLength: 600 }),
      cuts: fc.array(fc.nat({ max: 600 }), { maxLength: 8 })
    },
    ({ bytes, cuts }) =>
      Effect.gen(function*() {
        const points = [0, ...cuts.map((c) => Math.min(c, bytes.length)).sort((a, b) => a - b), bytes.length]
        const chunks = points.slice(1).map((end, i) => bytes.slice(points[i], end))
        const compose = (content: MailMessage.Attachment["content"]) =>
          MailMessage.compose({
            from: "a@example.test",
            to: "b@example.test",
            messageId: "fixed@example.test",
            attachments: [{ filename: "data.bin", content }]
          }).pipe(Effect.flatMap((c) => collect(c.content)), Random.withSeed("seed"))
        const whole = yield* compose(bytes)
        const split = yield* compose(Stream.fromIterable(chunks))
        expect(Buffer.from(split).toString("latin1")).toBe(Buffer.from(whole).toString("latin1"))
      })
  )

  it.effect("encodes a 1 MB stream attachment in 76-column base64 lines that decode to the same bytes", () =>
    Effect.gen(function*() {
      const chunk = new Uint8Array(4093).map((_, i) => (i * 31) & 0xff)
      const count = 250
      const composed = yield* MailMessage.compose({
        from: "a@example.test",
        to: "b@example.test",
        attachments: [{ filename: "big.bin", content: Stream.range(1, count).pipe(Stream.as(chunk)) }]
      })
      const bytes = yield* collect(composed.content)
      const lines = expectWellFormedLines(bytes)
      const base64 = lines.filter((l) => /^[A-Za-z0-9+/]+=*$/.test(l) && l.length > 40)
      expect(base64.slice(0, -1).every((l) => l.length === 76)).toBe(true)
      const content = (yield* parse(bytes)).attachments[0]!.content
      expect(content.length).toBe(count * chunk.length)
      for (let i = 0; i < count; i++) {
        expect(content.subarray(i * chunk.length, (i + 1) * chunk.length).equals(chunk)).toBe(true)
      }
    }))

  it.effect("keeps every line within 998 octets for very long unbroken header text, and it still parses back", () =>
    Effect.gen(function*() {
      const long = "x".repeat(2500)
      const composed = yield* MailMessage.compose({
        from: { name: `N${"é".repeat(1500)}`, address: "a@example.test" },
        to: { name: "q\"".repeat(400), address: "b@example.test" },
        subject: long,
        headers: { "X-Long": long },
        attachments: [{ filename: `${"f".repeat(600)}.txt`, content: "x" }]
      })
      const bytes = yield* collect(composed.content)
      expectWellFormedLines(bytes)
      const parsed = yield* parse(bytes)
      expect(addressObjects(parsed.from)[0]!.name).toBe(`N${"é".repeat(1500)}`)
      expect(addressObjects(parsed.to)[0]!.name).toBe("q\"".repeat(400))
      expect(parsed.subject).toBe(long)
      expect(libmime.decodeWords(parsed.headers.get("x-long") as string)).toBe(long)
      expect(parsed.attachments[0]!.filename).toBe(`${"f".repeat(600)}.txt`)
    }))

  it.effect("takes the Date header from the Clock (TestClock), in RFC 5322 form", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2024, 1, 29, 13, 14, 15))
      const composed = yield* MailMessage.compose({ from: "a@example.test", to: "b@example.test", text: "hi" })
      const head = headerBlock(yield* collect(composed.content))
      expect(head).toContain("\r\nDate: Thu, 29 Feb 2024 13:14:15 +0000\r\n")
      yield* TestClock.adjust("1 day")
      const later = yield* MailMessage.compose({ from: "a@example.test", to: "b@example.test", text: "hi" })
      expect(headerBlock(yield* collect(later.content))).toContain("\r\nDate: Fri, 01 Mar 2024 13:14:15 +0000\r\n")
    }))

  it.effect("uses a given date and Message-ID, and generates a unique one at the sender's domain otherwise", () =>
    Effect.gen(function*() {
      const given = yield* MailMessage.compose({
        from: "a@example.test",
        to: "b@example.test",
        messageId: "<given.1@example.test>",
        date: new Date(Date.UTC(2001, 0, 2, 3, 4, 5))
      })
      expect(given.messageId).toBe("<given.1@example.test>")
      const head = headerBlock(yield* collect(given.content))
      expect(head).toContain("\r\nMessage-ID: <given.1@example.test>\r\n")
      expect(head).toContain("\r\nDate: Tue, 02 Jan 2001 03:04:05 +0000\r\n")

      const one = yield* MailMessage.compose({ from: "a@Mail.Example.test", to: "b@example.test" })
      const two = yield* MailMessage.compose({ from: "a@Mail.Example.test", to: "b@example.test" })
      expect(one.messageId).toMatch(/^<[0-9a-z]+\.[0-9a-f]{24}@Mail\.Example\.test>$/)
      expect(one.messageId).not.toBe(two.messageId)
    }))

  it.effect("writes MIME-Version, multipart/alternative for text and HTML, and multipart/mixed with attachments", () =>
    Effect.gen(function*() {
      const composed = yield* MailMessage.compose({
        from: "a@example.test",
        to: "b@example.test",
        text: "plain",
        html: "<b>rich</b>",
        attachments: [{ filename: "a.txt", content: "A" }]
      })
      const text = Buffer.from(yield* collect(composed.content)).toString("latin1")
      expect(text).toContain("\r\nMIME-Version: 1.0\r\n")
      expect(text).toMatch(/^Content-Type: multipart\/mixed;/m)
      expect(text).toMatch(/^Content-Type: multipart\/alternative;/m)
      expect(text.indexOf("text/plain; charset=utf-8")).toBeLessThan(text.indexOf("text/html; charset=utf-8"))
    }))
})

// ---------------------------------------------------------------------------
// Header injection and invalid input
// ---------------------------------------------------------------------------

const base: MailMessage.MailMessage = {
  from: { name: "Sender", address: "sender@example.test" },
  to: ["to@example.test"],
  subject: "Subject",
  text: "Body",
  attachments: [{ filename: "file.bin", contentType: "application/x-test", content: "x", contentId: "c1@x" }]
}

/** Every header input, and how to put a value into it. */
const targets: ReadonlyArray<readonly [field: string, put: (value: string) => MailMessage.MailMessage]> = [
  ["from.address", (v) => ({ ...base, from: { name: "Sender", address: `sender${v}@example.test` } })],
  ["from.name", (v) => ({ ...base, from: { name: v, address: "sender@example.test" } })],
  ["from", (v) => ({ ...base, from: `sender@exa${v}mple.test` })],
  ["to[0]", (v) => ({ ...base, to: [`${v}to@example.test`] })],
  ["cc[1].name", (v) => ({ ...base, cc: ["cc@example.test", { name: v, address: "cc2@example.test" }] })],
  ["bcc[0]", (v) => ({ ...base, bcc: [`bcc@example.test${v}`] })],
  ["replyTo", (v) => ({ ...base, replyTo: `re${v}ply@example.test` })],
  ["subject", (v) => ({ ...base, subject: v })],
  ["headers[\"X-Custom\"]", (v) => ({ ...base, headers: { "X-Custom": v } })],
  [`headers[`, (v) => ({ ...base, headers: { [`X-Cus${v}tom`]: "value" } })],
  ["attachments[0].filename", (v) => ({ ...base, attachments: [{ filename: v, content: "x" }] })],
  ["attachments[0].contentType", (v) => ({
    ...base,
    attachments: [{ filename: "f", contentType: `application/${v}x`, content: "x" }]
  })],
  ["attachments[0].contentId", (v) => ({ ...base, attachments: [{ filename: "f", contentId: v, content: "x" }] })],
  ["messageId", (v) => ({ ...base, messageId: `id${v}@example.test` })]
]

const controlCharacter = fc.oneof(
  fc.integer({ min: 0, max: 0x1f }),
  fc.constantFrom(0x7f, 0x85, 0x9f, 0x2028, 0x2029)
).map((code) => String.fromCharCode(code))

describe("header injection", () => {
  effectProp(
    "property: a CR, LF or other control character anywhere in any header input fails with InvalidInputError naming the input",
    {
      target: fc.integer({ min: 0, max: targets.length - 1 }),
      text: fc.tuple(
        fc.string({ maxLength: 10 }).filter(noControls),
        controlCharacter,
        fc.string({ maxLength: 10 }).filter(noControls)
      )
    },
    ({ target, text: [before, control, after] }) =>
      Effect.gen(function*() {
        const [field, put] = targets[target]!
        const error = yield* Effect.flip(MailMessage.compose(put(`${before}${control}${after}`)))
        // A MailMessage-typed value may carry `dkim`, so compose's type admits DKIM errors too.
        assert(error._tag === "InvalidInputError")
        expect(error.field.startsWith(field)).toBe(true)
        expect(error.message).toContain("control character")
        expect(error.message).toContain("Nothing was sent")
      })
  )

  const invalid: ReadonlyArray<readonly [string, MailMessage.MailMessage, string, RegExp]> = [
    ["a name and brackets in an address string", { ...base, to: ["Bob <bob@example.test>"] }, "to[0]", /"<" or ">"/],
    ["an address without @", { ...base, to: "bob" }, "to", /user@example\.com/],
    ["no recipient", { ...base, to: [] }, "to", /at least one address/],
    ["a header name with a colon", { ...base, headers: { "X-A:b": "v" } }, "headers", /field name/],
    ["a header name with a space", { ...base, headers: { "X A": "v" } }, "headers", /field name/],
    ["a custom Bcc header", { ...base, headers: { bcc: "x@example.test" } }, "headers", /never appear/],
    ["a custom Content-Type", { ...base, headers: { "Content-Type": "text/plain" } }, "headers", /MIME headers/],
    ["the same header twice", { ...base, headers: { "X-A": "1", "x-a": "2" } }, "headers", /given twice/],
    [
      "a content type that is not type/subtype",
      {
        ...base,
        attachments: [{ filename: "f", contentType: "pdf", content: "x" }]
      },
      "attachments[0].contentType",
      /type\/subtype/
    ],
    ["a message id without @", { ...base, messageId: "nope" }, "messageId", /unique-part@example\.com/],
    ["an invalid date", { ...base, date: new Date(Number.NaN) }, "date", /invalid Date/],
    ["a subject with a lone surrogate", { ...base, subject: "broken \ud83c" }, "subject", /unpaired UTF-16 surrogate/]
  ]
  for (const [name, message, field, reason] of invalid) {
    it.effect(`refuses ${name}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(MailMessage.compose(message))
        assert(error._tag === "InvalidInputError")
        expect(error.field.startsWith(field)).toBe(true)
        expect(error.reason).toMatch(reason)
      }))
  }
})

// ---------------------------------------------------------------------------
// End to end through the client
// ---------------------------------------------------------------------------

describe("compose and send", () => {
  it.effect("sends a composed message through SmtpClient; the server's copy parses back, bcc only in the envelope", () => {
    const server = TestSocket.smtpServer()
    const layer = scriptedClient(server.script, { host: "mail.test", port: 25, security: "none" })
    const photo = new Uint8Array(5000).map((_, i) => (i * 7) & 0xff)
    return Effect.gen(function*() {
      const mail = yield* MailMessage.toMail({
        from: { name: "Zoë Örtlund", address: "zoe@example.test" },
        to: [{ name: "Ålice", address: "alice@example.test" }],
        bcc: "archive@example.test",
        subject: "Photos from the café ☕",
        text: "Here they are.\n.\nA line with only a dot above.",
        html: "<p>Here they are: <img src=\"cid:photo@example.test\"></p>",
        attachments: [
          { filename: "photo.jpg", content: Stream.fromIterable([photo.slice(0, 1234), photo.slice(1234)]) },
          { filename: "inline.png", contentId: "photo@example.test", content: photo.slice(0, 10) }
        ]
      })
      const result = yield* SmtpClient.send(mail)
      expect(result.accepted).toEqual(["alice@example.test", "archive@example.test"])

      const received = server.received[0]!
      expect(received.from).toBe("zoe@example.test")
      expect(received.to).toEqual(["alice@example.test", "archive@example.test"])
      expect(Buffer.from(received.data).toString("latin1")).not.toContain("archive@")
      const parsed = yield* parse(received.data)
      expect(addressObjects(parsed.from)).toEqual([{ address: "zoe@example.test", name: "Zoë Örtlund" }])
      expect(addressObjects(parsed.to)).toEqual([{ address: "alice@example.test", name: "Ålice" }])
      expect(parsed.subject).toBe("Photos from the café ☕")
      expect(normaliseBody(parsed.text ?? "")).toBe("Here they are.\n.\nA line with only a dot above.")
      expect(parsed.html).toBe("<p>Here they are: <img src=\"cid:photo@example.test\"></p>")
      expect(parsed.attachments.map((a) => [a.filename, a.contentType, a.cid, a.size])).toEqual([
        ["inline.png", "image/png", "photo@example.test", 10],
        ["photo.jpg", "image/jpeg", undefined, 5000]
      ])
      expect([...parsed.attachments[1]!.content]).toEqual([...photo])
    }).pipe(Effect.provide(layer))
  })
})
