/**
 * Composed messages for property tests (shared by the composer's and the
 * signer's tests), and reading a content stream back as bytes.
 */
import type { MailMessage } from "@effect-smtp/message"
import { fc } from "@effect-smtp/test-utils/property"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

const utf8 = new TextEncoder()

export const collect = <E>(content: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(content), (chunks) => {
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
    let at = 0
    for (const c of chunks) {
      bytes.set(c, at)
      at += c.length
    }
    return bytes
  })

// ---------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------

export const noControls = (s: string) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s)

/** Any Unicode text without control characters: ASCII punctuation, accents, emoji, CJK, "=?"-lookalikes. */
export const headerText = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: "grapheme", maxLength }),
    fc.string({
      unit: fc.constantFrom(" ", "a", "Z", "\"", "\\", "=?", "?=", "é", "日", "🌸", ",", "<"),
      maxLength
    })
  ).filter(noControls)

export const word = fc.stringMatching(/^[a-zA-Z0-9+_-]{1,8}$/)
export const emailAddress = fc.tuple(
  fc.array(word, { minLength: 1, maxLength: 3 }),
  fc.array(fc.stringMatching(/^[a-z0-9]{1,10}$/), { minLength: 1, maxLength: 2 })
).map(([local, domain]) => `${local.join(".")}@${domain.join(".")}.test`)

const address: fc.Arbitrary<MailMessage.Address> = fc.oneof(
  emailAddress,
  fc.record({ name: headerText(40), address: emailAddress })
)

export const addresses = fc.array(address, { maxLength: 3 })

/** Bytes, a string, or a stream of the bytes split at arbitrary points (empty chunks included). */
export const attachmentContent = fc.uint8Array({ maxLength: 400 }).chain((bytes) =>
  fc.oneof(
    fc.constant({ bytes, content: bytes as MailMessage.Attachment["content"] }),
    fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 6 }).map((cuts) => {
      const points = [0, ...[...cuts].sort((a, b) => a - b), bytes.length]
      const chunks = points.slice(1).map((end, i) => bytes.slice(points[i], end))
      return { bytes, content: Stream.fromIterable(chunks) as MailMessage.Attachment["content"] }
    }),
    headerText(100).map((text) => ({ bytes: utf8.encode(text), content: text as MailMessage.Attachment["content"] }))
  )
)

export const attachment = fc.record({
  filename: headerText(60).filter((s) => s.length > 0),
  // Not application/octet-stream: mailparser replaces it with a guess from the filename's extension.
  contentType: fc.constantFrom(undefined, "image/png", "application/x-test", "text/csv"),
  inline: fc.boolean(),
  data: attachmentContent
})

export const customHeaders = fc.uniqueArray(
  fc.tuple(fc.stringMatching(/^X-[A-Za-z0-9-]{1,12}$/), headerText(120)),
  { maxLength: 3, selector: ([name]) => name.toLowerCase() }
)

export const messageArbitrary = fc.record({
  from: address,
  to: addresses,
  cc: addresses,
  bcc: addresses,
  replyTo: fc.option(address, { nil: undefined }),
  subject: fc.option(headerText(150), { nil: undefined }),
  text: fc.option(fc.string({ unit: "grapheme", maxLength: 300 }), { nil: undefined }),
  html: fc.option(fc.string({ maxLength: 200 }).map((s) => `<p>${s}</p>`), { nil: undefined }),
  attachments: fc.array(attachment, { maxLength: 3 }),
  headers: customHeaders
}).filter((m) => m.to.length + m.cc.length + m.bcc.length > 0)

export type Generated = typeof messageArbitrary extends fc.Arbitrary<infer A> ? A : never

export const toMessage = (m: Generated): MailMessage.MailMessage => ({
  from: m.from,
  to: m.to,
  cc: m.cc,
  bcc: m.bcc,
  replyTo: m.replyTo,
  subject: m.subject,
  text: m.text,
  html: m.html,
  headers: Object.fromEntries(m.headers),
  attachments: m.attachments.map((a, i) => ({
    filename: a.filename,
    contentType: a.contentType,
    content: a.data.content,
    // Unique per message, as the HTML refers to each by its id.
    contentId: a.inline ? `part${i}@example.test` : undefined
  }))
})
