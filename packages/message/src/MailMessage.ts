/**
 * Compose an RFC 5322 message (headers, text and HTML bodies, attachments)
 * as a `Stream<Uint8Array>`, with the SMTP envelope derived from it.
 *
 * ```ts
 * import { SmtpClient } from "@effect-smtp/client"
 * import { MailMessage } from "@effect-smtp/message"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function*() {
 *   const mail = yield* MailMessage.toMail({
 *     from: { name: "Café Müller", address: "orders@example.com" },
 *     to: "alice@example.com",
 *     bcc: "archive@example.com",
 *     subject: "Your order ✓",
 *     text: "Thank you!",
 *     html: "<p>Thank you!</p>",
 *     attachments: [{ filename: "invoice.pdf", content: new Uint8Array([0x25, 0x50, 0x44, 0x46]) }]
 *   })
 *   return yield* SmtpClient.send(mail)
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Mail, SmtpError } from "@effect-smtp/client"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type * as Dkim from "./Dkim.js"
import type { DkimContentError, DkimError } from "./DkimError.js"
import * as internal from "./internal/mailMessage.js"

/**
 * A mailbox: a bare address (`"alice@example.com"`), or an address with a
 * display name, which may be any Unicode text.
 *
 * @since 0.1.0
 * @category models
 */
export type Address = string | {
  readonly name?: string | undefined
  readonly address: string
}

/**
 * One address or several.
 *
 * @since 0.1.0
 * @category models
 */
export type Addresses = Address | ReadonlyArray<Address>

/**
 * A file sent with the message, base64-encoded. `content` may be a
 * `Stream` (read from disk or the network, say): it is encoded as it is read,
 * so its size does not matter. A string is sent as its UTF-8 bytes.
 *
 * For a file, `NodeAttachment.fromPath(path)` (from `@effect-smtp/message/node`)
 * makes the attachment, streamed from disk.
 *
 * With `contentId` the attachment is inline: an HTML body refers to it as
 * `cid:<contentId>` (an image in the text, say) and the HTML and its inline
 * parts form a multipart/related.
 *
 * @since 0.1.0
 * @category models
 */
export interface Attachment<E = never> {
  readonly filename: string
  /** Defaults to the type the filename's extension suggests, or application/octet-stream. */
  readonly contentType?: string | undefined
  readonly content: Uint8Array | string | Stream.Stream<Uint8Array, E>
  /** Makes the attachment inline, referred to from the HTML as `cid:<contentId>`. */
  readonly contentId?: string | undefined
}

/**
 * How recipients unsubscribe (RFC 2369 List-Unsubscribe), and whether their
 * mail provider may do it in one click (RFC 8058 List-Unsubscribe-Post),
 * which Gmail and Yahoo require of bulk senders.
 *
 * With `url`, the provider POSTs `List-Unsubscribe=One-Click` to it: the URL
 * must identify the recipient and list by itself (an opaque token in it, say)
 * and unsubscribe without any further page or login. With `mailto`, a mail to
 * that address unsubscribes.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListUnsubscribe {
  /** An https URL, percent-encoded (no spaces, commas or non-ASCII characters). */
  readonly url?: string | undefined
  /** An address (`unsubscribe@example.com`) or a whole `mailto:` URI. */
  readonly mailto?: string | undefined
  /** Adds `List-Unsubscribe-Post: List-Unsubscribe=One-Click`; defaults to true when `url` is given. */
  readonly oneClick?: boolean | undefined
}

/**
 * A message to compose. `from` and at least one of `to`, `cc` and `bcc` are
 * required; the rest is optional. `bcc` recipients receive the message but
 * never appear in it.
 *
 * @since 0.1.0
 * @category models
 */
export interface MailMessage<E = never> {
  readonly from: Address
  readonly to?: Addresses | undefined
  readonly cc?: Addresses | undefined
  readonly bcc?: Addresses | undefined
  readonly replyTo?: Addresses | undefined
  readonly subject?: string | undefined
  /** The plain-text body. Line breaks may be LF, CR or CRLF; they are sent as CRLF. */
  readonly text?: string | undefined
  /** The HTML body; with `text` as well, the two are alternatives of each other. */
  readonly html?: string | undefined
  readonly attachments?: ReadonlyArray<Attachment<E>> | undefined
  /**
   * More headers, such as `X-Campaign` or `List-Unsubscribe`. Names are
   * RFC 5322 field names; headers the composer writes itself (From, Subject,
   * Content-Type, ...) are refused in favour of their fields.
   */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** `unique@example.com` or `<unique@example.com>`; generated when absent. */
  readonly messageId?: string | undefined
  /** Defaults to the current time of Effect's `Clock`. */
  readonly date?: Date | undefined
  /** Writes List-Unsubscribe, and List-Unsubscribe-Post for one click. */
  readonly listUnsubscribe?: ListUnsubscribe | undefined
  /**
   * Signs the message with DKIM (see the `Dkim` module): options, a signer
   * made with `Dkim.make`, or several. The composed content is then read
   * twice, once to sign and once to send: stream attachments must give the
   * same bytes each time.
   */
  readonly dkim?: Dkim.SignWith | undefined
}

/**
 * Who the SMTP transaction is from and to: `from`'s address, and every
 * address of `to`, `cc` and `bcc`, each once.
 *
 * @since 0.1.0
 * @category models
 */
export interface Envelope {
  readonly from: string
  readonly to: ReadonlyArray<string>
}

/**
 * A composed message: the envelope, the RFC 5322 message as a stream of
 * bytes (7-bit, CRLF line ends, no line over 998 octets), and its
 * Message-ID (with angle brackets, as for In-Reply-To and References).
 *
 * The content is a description: it is produced when the stream runs, and
 * can run again.
 *
 * @since 0.1.0
 * @category models
 */
export interface Composed<E = never> {
  readonly envelope: Envelope
  readonly content: Stream.Stream<Uint8Array, E>
  readonly messageId: string
}

/**
 * Composes a message: multipart/alternative for text and HTML,
 * multipart/related for inline attachments, multipart/mixed for the others;
 * RFC 2047 encoded words for non-ASCII header text, quoted-printable (or
 * base64 for mostly non-ASCII text) bodies, base64 attachments; a
 * Message-ID (random, at the sender's domain) and a Date from `Clock` unless
 * given. With `dkim`, the message is signed: its content is read once now to
 * hash it (with the header held and the body streamed), and again when sent.
 *
 * Every input that reaches a header is checked first: CR, LF or any other
 * control character, a malformed address or header name, or no recipient at
 * all fail with `InvalidInputError`, so header injection is impossible.
 *
 * @since 0.1.0
 * @category constructors
 */
export const compose: {
  <E = never>(
    message: MailMessage<E> & { readonly dkim?: undefined }
  ): Effect.Effect<Composed<E>, SmtpError.InvalidInputError>
  <E = never>(
    message: MailMessage<E>
  ): Effect.Effect<Composed<E | DkimContentError>, SmtpError.InvalidInputError | DkimError | E>
} = internal.compose

/**
 * Composes a message into the `Mail` that `SmtpClient.send` takes, its
 * envelope derived from the message.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toMail: {
  <E = never>(
    message: MailMessage<E> & { readonly dkim?: undefined }
  ): Effect.Effect<Mail<E>, SmtpError.InvalidInputError>
  <E = never>(
    message: MailMessage<E>
  ): Effect.Effect<Mail<E | DkimContentError>, SmtpError.InvalidInputError | DkimError | E>
} = internal.toMail
