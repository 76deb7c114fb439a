import { type Mail, SmtpError } from "@effect-smtp/client"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import type { DkimContentError, DkimError } from "../DkimError.js"
import type * as MailMessage from "../MailMessage.js"
import * as dkim from "./dkim.js"
import { base64Lines, encodeText } from "./encoding.js"
import * as headers from "./headers.js"
import { type Check, fail } from "./headers.js"
import * as listUnsubscribe from "./listUnsubscribe.js"

// ---------------------------------------------------------------------------
// Checking the input
// ---------------------------------------------------------------------------

const isList = (addresses: MailMessage.Addresses): addresses is ReadonlyArray<MailMessage.Address> =>
  Array.isArray(addresses)

const checkMailbox = (field: string, input: MailMessage.Address): Check<headers.Mailbox> =>
  typeof input === "string"
    ? Result.map(headers.checkAddress(field, input), (address) => ({ address }))
    : Result.gen(function*() {
      const address = yield* headers.checkAddress(`${field}.address`, input.address)
      if (input.name === undefined) return { address }
      const name = yield* headers.checkText(`${field}.name`, input.name)
      return { name, address }
    })

const checkMailboxes = (
  field: string,
  input: MailMessage.Addresses | undefined
): Check<ReadonlyArray<headers.Mailbox>> => {
  if (input === undefined) return Result.succeed([])
  if (!isList(input)) return Result.map(checkMailbox(field, input), (m) => [m])
  return Result.all(input.map((address, i) => checkMailbox(`${field}[${i}]`, address)))
}

/** Local parts are case-sensitive (RFC 5321 §2.4), domains are not. */
const recipientKey = (address: string): string => {
  const at = address.lastIndexOf("@")
  return `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase()}`
}

const distinctAddresses = (mailboxes: ReadonlyArray<headers.Mailbox>): Array<string> => {
  const seen = new Set<string>()
  const addresses: Array<string> = []
  for (const { address } of mailboxes) {
    const key = recipientKey(address)
    if (seen.has(key)) continue
    seen.add(key)
    addresses.push(address)
  }
  return addresses
}

const checkCustomHeaders = (
  input: Readonly<Record<string, string>> | undefined
): Check<ReadonlyArray<readonly [string, string]>> =>
  Result.gen(function*() {
    const result: Array<readonly [string, string]> = []
    const seen = new Set<string>()
    for (const [name, value] of Object.entries(input ?? {})) {
      const field = `headers[${SmtpError.describeValue(name)}]`
      yield* headers.checkHeaderName(field, name)
      if (seen.has(name.toLowerCase())) {
        return yield* fail(field, "is given twice (header names are case-insensitive): give it once")
      }
      seen.add(name.toLowerCase())
      result.push([name, yield* headers.checkText(field, value)])
    }
    return result
  })

interface CheckedAttachment<E> {
  readonly filename: string
  readonly contentType: string
  readonly contentId: string | undefined
  readonly content: MailMessage.Attachment<E>["content"]
}

const checkAttachment = <E>(
  attachment: MailMessage.Attachment<E>,
  i: number
): Check<CheckedAttachment<E>> =>
  Result.gen(function*() {
    const field = `attachments[${i}]`
    const filename = yield* headers.checkText(`${field}.filename`, attachment.filename)
    if (filename.length === 0) {
      return yield* fail(`${field}.filename`, "is empty: give the name the recipient sees, such as report.pdf")
    }
    const contentType = attachment.contentType === undefined
      ? headers.detectMimeType(filename)
      : yield* headers.checkContentType(`${field}.contentType`, attachment.contentType)
    const contentId = attachment.contentId === undefined
      ? undefined
      : yield* headers.checkId(`${field}.contentId`, attachment.contentId, { requireAt: false })
    return { filename, contentType, contentId, content: attachment.content }
  })

/** Accepts the id with or without its angle brackets. */
const checkMessageId = (id: string): Check<string> =>
  headers.checkId("messageId", /^<.*>$/s.test(id) ? id.slice(1, -1) : id, { requireAt: true })

const checkDate = (date: Date): Check<Date> => {
  if (Number.isNaN(date.getTime())) return fail("date", "is an invalid Date")
  const year = date.getUTCFullYear()
  if (year < 1900 || year > 9999) {
    return fail("date", `is in the year ${year}; an RFC 5322 date is between 1900 and 9999`)
  }
  return Result.succeed(date)
}

// ---------------------------------------------------------------------------
// The MIME tree
// ---------------------------------------------------------------------------

interface Leaf<E> {
  readonly _tag: "Leaf"
  readonly headers: ReadonlyArray<string>
  /** Encoded, without a CRLF after its last line. */
  readonly body: string | Stream.Stream<Uint8Array, E>
}

interface Multipart<E> {
  readonly _tag: "Multipart"
  readonly headers: ReadonlyArray<string>
  readonly boundary: string
  readonly parts: ReadonlyArray<Part<E>>
}

type Part<E> = Leaf<E> | Multipart<E>

const randomHex = (bytes: number): Effect.Effect<string> =>
  Effect.map(
    Effect.replicateEffect(Random.nextIntBetween(0, 256, { halfOpen: true }), bytes),
    (values) => values.map((b) => b.toString(16).padStart(2, "0")).join("")
  )

/**
 * A boundary can never occur in a body: quoted-printable writes "=" as "=3D",
 * so "=_" is not in its output, and base64 has neither "=" nor "_" mid-line.
 */
const multipart = <E>(subtype: string, parts: ReadonlyArray<Part<E>>): Effect.Effect<Part<E>> =>
  Effect.map(randomHex(12), (hex): Part<E> => {
    const boundary = `----=_Part_${hex}`
    return {
      _tag: "Multipart",
      headers: headers.withParams("Content-Type", `multipart/${subtype}`, { boundary }),
      boundary,
      parts
    }
  })

/** One part, or a multipart of several; `undefined` for none. */
const group = <E>(subtype: string, parts: ReadonlyArray<Part<E>>): Effect.Effect<Part<E> | undefined> =>
  parts.length <= 1 ? Effect.succeed(parts[0]) : multipart(subtype, parts)

const textPart = <E>(subtype: "plain" | "html", text: string): Part<E> => {
  const encoded = encodeText(text)
  return {
    _tag: "Leaf",
    headers: [
      ...headers.withParams("Content-Type", `text/${subtype}`, { charset: "utf-8" }),
      `Content-Transfer-Encoding: ${encoded.transferEncoding}`
    ],
    body: encoded.body
  }
}

const utf8 = new TextEncoder()

const attachmentPart = <E>(attachment: CheckedAttachment<E>): Part<E> => {
  const { content, contentId, contentType, filename } = attachment
  const bytes = typeof content === "string"
    ? Stream.make(utf8.encode(content))
    : content instanceof Uint8Array
    ? Stream.make(content)
    : content
  return {
    _tag: "Leaf",
    headers: [
      ...headers.withParams("Content-Type", contentType, { name: filename }),
      "Content-Transfer-Encoding: base64",
      ...headers.withParams("Content-Disposition", contentId === undefined ? "attachment" : "inline", { filename }),
      ...(contentId === undefined ? [] : [`Content-ID: <${contentId}>`])
    ],
    body: base64Lines(bytes)
  }
}

/**
 * mixed( related( alternative(text, html), inline... ), attachments... ):
 * alternative and related only when they have more than one part, mixed
 * whenever there are attachments. Inline attachments
 * without an HTML body to refer to them go with the others.
 */
const body = <E>(
  text: string | undefined,
  html: string | undefined,
  attachments: ReadonlyArray<CheckedAttachment<E>>
): Effect.Effect<Part<E>> =>
  Effect.gen(function*() {
    const inline = html === undefined ? [] : attachments.filter((a) => a.contentId !== undefined)
    const others = attachments.filter((a) => !inline.includes(a))
    const alternatives = yield* group("alternative", [
      ...(text === undefined ? [] : [textPart<E>("plain", text)]),
      ...(html === undefined ? [] : [textPart<E>("html", html)])
    ])
    const related = yield* group("related", [
      ...(alternatives === undefined ? [] : [alternatives]),
      ...inline.map(attachmentPart)
    ])
    if (others.length > 0) {
      // Even a lone attachment goes in a multipart/mixed: mail readers list its parts as attachments.
      return yield* multipart("mixed", [...(related === undefined ? [] : [related]), ...others.map(attachmentPart)])
    }
    // A message with nothing to say still has a (empty) text body.
    return related ?? textPart<E>("plain", "")
  })

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

/** Collects text and streams in order; adjacent text becomes one chunk. */
const writer = <E>() => {
  const pieces: Array<Stream.Stream<Uint8Array, E>> = []
  let text = ""
  const flush = () => {
    if (text.length > 0) pieces.push(Stream.make(utf8.encode(text)))
    text = ""
  }
  return {
    text: (more: string) => {
      text += more
    },
    stream: (stream: Stream.Stream<Uint8Array, E>) => {
      flush()
      pieces.push(stream)
    },
    done: (): Stream.Stream<Uint8Array, E> => {
      flush()
      return Stream.flatten(Stream.fromArray(pieces))
    }
  }
}

type Writer<E> = ReturnType<typeof writer<E>>

const writeBody = <E>(part: Part<E>, out: Writer<E>): void => {
  if (part._tag === "Leaf") {
    if (typeof part.body === "string") out.text(part.body)
    else out.stream(part.body)
    return
  }
  for (const child of part.parts) {
    out.text(`--${part.boundary}\r\n${child.headers.join("\r\n")}\r\n\r\n`)
    writeBody(child, out)
    // The CRLF before a boundary belongs to it (RFC 2046 §5.1.1).
    out.text("\r\n")
  }
  out.text(`--${part.boundary}--`)
}

// ---------------------------------------------------------------------------
// compose
// ---------------------------------------------------------------------------

/** The option's header fields are the option's alone. */
const checkListUnsubscribe = (
  input: MailMessage.ListUnsubscribe | undefined,
  custom: ReadonlyArray<readonly [string, string]>
): Check<ReadonlyArray<string>> => {
  if (input === undefined) return Result.succeed([])
  const clash = custom.find(([name]) => listUnsubscribe.names.includes(name.toLowerCase()))
  if (clash !== undefined) {
    return fail(
      `headers[${SmtpError.describeValue(clash[0])}]`,
      "is written by the listUnsubscribe option: give it there only"
    )
  }
  return listUnsubscribe.headerLines(input)
}

/** Every option checked, in the order their errors are reported. */
const checkMessage = <E>(message: MailMessage.MailMessage<E>) =>
  Result.gen(function*() {
    const from = yield* checkMailbox("from", message.from)
    const to = yield* checkMailboxes("to", message.to)
    const cc = yield* checkMailboxes("cc", message.cc)
    const bcc = yield* checkMailboxes("bcc", message.bcc)
    const replyTo = yield* checkMailboxes("replyTo", message.replyTo)
    if (to.length + cc.length + bcc.length === 0) {
      return yield* fail("to", "no recipient: give at least one address in to, cc or bcc")
    }
    const subject = message.subject === undefined ? undefined : yield* headers.checkText("subject", message.subject)
    const custom = yield* checkCustomHeaders(message.headers)
    const unsubscribe = yield* checkListUnsubscribe(message.listUnsubscribe, custom)
    const attachments = yield* Result.all((message.attachments ?? []).map((a, i) => checkAttachment(a, i)))
    const messageId = message.messageId === undefined ? undefined : yield* checkMessageId(message.messageId)
    const date = message.date === undefined ? undefined : yield* checkDate(message.date)
    return { from, to, cc, bcc, replyTo, subject, custom, unsubscribe, attachments, messageId, date }
  })

/** @internal */
export const compose = <E = never>(
  message: MailMessage.MailMessage<E>
): Effect.Effect<
  MailMessage.Composed<E | DkimContentError>,
  SmtpError.InvalidInputError | DkimError | E
> =>
  Effect.gen(function*() {
    const { attachments, bcc, cc, custom, from, replyTo, subject, to, unsubscribe, ...given } = yield* Effect
      .fromResult(checkMessage(message))

    const domain = from.address.slice(from.address.lastIndexOf("@") + 1)
    const messageId = given.messageId === undefined
      ? `<${(yield* Clock.currentTimeMillis).toString(36)}.${yield* randomHex(12)}@${domain}>`
      : `<${given.messageId}>`
    const date = given.date ?? new Date(yield* Clock.currentTimeMillis)

    const root = yield* body(message.text, message.html, attachments)
    const head = [
      ...headers.addressList("From", [from]),
      ...(to.length === 0 ? [] : headers.addressList("To", to)),
      ...(cc.length === 0 ? [] : headers.addressList("Cc", cc)),
      // Bcc is deliberately absent: the envelope alone carries those recipients.
      ...(replyTo.length === 0 ? [] : headers.addressList("Reply-To", replyTo)),
      ...(subject === undefined ? [] : headers.unstructured("Subject", subject)),
      `Date: ${headers.formatDate(date)}`,
      `Message-ID: ${messageId}`,
      "MIME-Version: 1.0",
      ...unsubscribe,
      ...custom.flatMap(([name, value]) => headers.unstructured(name, value)),
      ...root.headers
    ]

    const out = writer<E>()
    out.text(`${head.join("\r\n")}\r\n\r\n`)
    writeBody(root, out)
    // The message ends with a complete line, and a text body that already does gets no extra empty line.
    if (root._tag === "Multipart" || (typeof root.body === "string" && /[^\n]$/.test(root.body))) out.text("\r\n")

    // Checked before a signature's first read of the content, which may be long.
    const signers = message.dkim === undefined ? undefined : yield* dkim.signers("dkim", message.dkim)
    const content: Stream.Stream<Uint8Array, E | DkimContentError> = signers === undefined
      ? out.done()
      : ((yield* dkim.signContent(out.done(), signers)).content as Stream.Stream<Uint8Array, E | DkimContentError>)
    return {
      envelope: { from: from.address, to: distinctAddresses([...to, ...cc, ...bcc]) },
      content,
      messageId
    }
  })

/** @internal */
export const toMail = <E = never>(
  message: MailMessage.MailMessage<E>
): Effect.Effect<Mail<E | DkimContentError>, SmtpError.InvalidInputError | DkimError | E> =>
  Effect.map(compose(message), ({ content, envelope }) => ({ from: envelope.from, to: envelope.to, content }))
