import { SmtpAddress, SmtpError } from "@effect-smtp/client"
import * as Result from "effect/Result"
import libmime from "libmime"

/**
 * Header checks and header encoding. Every piece of user text that reaches a
 * header line passes through here, so a header can never be ended early or a
 * new one smuggled in (header injection), and every line stays within RFC 5322's
 * 998 octets.
 */

/** @internal */
export type Check<A> = Result.Result<A, SmtpError.InvalidInputError>

/** @internal */
export const fail = (field: string, reason: string): Check<never> =>
  Result.fail(new SmtpError.InvalidInputError({ field, reason }))

/**
 * One line of header text: no control character, line separator or damaged
 * UTF-16, by the client's own checker (`SmtpAddress`), so a header can never
 * be ended early.
 *
 * @internal
 */
export const checkText = (field: string, value: string): Check<string> => {
  const invalid = SmtpAddress.checkText(field, value)
  return invalid === undefined ? Result.succeed(value) : Result.fail(invalid)
}

/** @internal */
export const octets = SmtpAddress.octets

/** RFC 5322 §3.6.8: a field name is printable US-ASCII except the colon. */
const fieldName = /^[\u0021-\u0039\u003b-\u007e]+$/

/**
 * Headers the composer writes itself. A custom header with one of these
 * names would contradict the message's own (two Content-Types break the MIME
 * structure; a custom Bcc would reveal the blind copies), so it is refused
 * with the option to use instead.
 */
const reserved: Record<string, string> = {
  "from": "set the `from` field instead",
  "to": "set the `to` field instead",
  "cc": "set the `cc` field instead",
  "bcc": "set the `bcc` field instead; blind copies never appear in the headers",
  "reply-to": "set the `replyTo` field instead",
  "subject": "set the `subject` field instead",
  "date": "set the `date` field instead",
  "message-id": "set the `messageId` field instead",
  "mime-version": "the composer writes it"
}

/** @internal */
export const checkHeaderName = (field: string, name: string): Check<string> => {
  const control = checkText(field, name)
  if (Result.isFailure(control)) return control
  if (!fieldName.test(name)) {
    return fail(
      field,
      `${
        SmtpError.describeValue(name)
      } is not a header field name: use printable ASCII letters, digits and punctuation, without spaces or ":" (RFC 5322 §3.6.8)`
    )
  }
  const lower = name.toLowerCase()
  const instead = reserved[lower] ??
    (lower.startsWith("content-") ? "the composer writes the MIME headers from the body and attachments" : undefined)
  if (instead !== undefined) {
    return fail(field, `${SmtpError.describeValue(name)} is a header the composer writes: ${instead}`)
  }
  return Result.succeed(name)
}

/**
 * One mailbox address, by the same checker the client applies to the
 * envelope (`SmtpAddress.checkAddress`): what a header names, MAIL FROM and
 * RCPT TO accept.
 *
 * @internal
 */
export const checkAddress = (field: string, address: string): Check<string> => {
  const invalid = SmtpAddress.checkAddress(field, address)
  return invalid === undefined ? Result.succeed(address) : Result.fail(invalid)
}

/**
 * RFC 2045 token characters; a content type is `type/subtype` with optional
 * `; name=value` parameters.
 */
const token = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+"
const contentTypePattern = new RegExp(`^${token}/${token}(\\s*;\\s*${token}=(${token}|"([^"\\\\]|\\\\.)*"))*$`)

/** @internal */
export const checkContentType = (field: string, contentType: string): Check<string> => {
  const control = checkText(field, contentType)
  if (Result.isFailure(control)) return control
  if (!contentTypePattern.test(contentType)) {
    return fail(
      field,
      `${
        SmtpError.describeValue(contentType)
      } is not a content type: give type/subtype, such as application/pdf, optionally with ; name=value parameters`
    )
  }
  const type = contentType.slice(0, contentType.indexOf("/")).toLowerCase()
  if (type === "multipart" || type === "message") {
    return fail(
      field,
      `${type}/* parts cannot be base64-encoded (RFC 2046 §5): attach the data as application/octet-stream`
    )
  }
  return Result.succeed(contentType)
}

/** Ids cannot be folded, so a bound keeps their header line well under 998 octets. */
const maxIdLength = 250

/**
 * A message or content id, without its angle brackets: printable ASCII, no
 * white space or brackets (RFC 5322 §3.6.4 msg-id, relaxed on the right-hand
 * side as receivers are).
 *
 * @internal
 */
export const checkId = (field: string, id: string, options: { readonly requireAt: boolean }): Check<string> => {
  const control = checkText(field, id)
  if (Result.isFailure(control)) return control
  if (!/^[\u0021-\u003b\u003d\u003f-\u007e]+$/.test(id) || (options.requireAt && !/^[^@]+@[^@]+$/.test(id))) {
    return fail(
      field,
      `${SmtpError.describeValue(id)} is not an id of the form ${
        options.requireAt ? "unique-part@example.com" : "logo@example.com"
      }: printable ASCII without spaces${options.requireAt ? ", one \"@\"" : ""} and without "<" or ">"`
    )
  }
  if (id.length > maxIdLength) {
    return fail(field, `is ${id.length} characters long; give at most ${maxIdLength}`)
  }
  return Result.succeed(id)
}

/**
 * RFC 2047 B encoding is shorter when most characters need encoding; Q keeps
 * mostly-ASCII text readable. The same rule picks base64 or quoted-printable
 * for text bodies.
 *
 * @internal
 */
export const isMostlyNonAscii = (text: string): boolean => {
  let nonAscii = 0
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7e) nonAscii++
  }
  return nonAscii * 2 > text.length
}

/** Encoded words of at most 75 characters (RFC 2047 §2), so that folding can keep lines short. */
const encodeWords = (text: string): string => libmime.encodeWord(text, isMostlyNonAscii(text) ? "B" : "Q", 52)

/**
 * Text that reads the same after unfolding: printable ASCII words separated by
 * single spaces. Anything else (non-ASCII, runs of white space, text that looks
 * like an encoded word) goes out as encoded words, which keep every character.
 */
const plainText = /^[\u0021-\u007e]+( [\u0021-\u007e]+)*$/

/** RFC 5322 §2.1.1: at most 998 octets on a line, excluding CRLF. */
const maxLineOctets = 998

/** Folds `Name: value` at white space to 76-column lines, CRLF between them. */
const fold = (name: string, value: string): Array<string> => libmime.foldLines(`${name}: ${value}`, 76).split("\r\n")

/**
 * Folds a structured header (addresses, MIME parameters) only outside quoted
 * strings. Unfolding a line break inside quotes is legal, but readers (mailparser
 * among them) collapse the white space there, changing a filename or name.
 * The spaces in quotes are held as NUL while folding: NUL never occurs in a
 * checked value.
 */
const foldStructured = (name: string, value: string): Array<string> =>
  fold(name, value.replace(/"(?:[^"\\]|\\.)*"/g, (quoted) => quoted.replace(/ /g, "\u0000")))
    .map((line) => line.replace(/\u0000/g, " "))

/** Folding breaks only at white space, so a word longer than a line stays whole: it must still fit. */
const fitsLines = (lines: ReadonlyArray<string>): boolean => lines.every((line) => octets(line) <= maxLineOctets)

/**
 * An unstructured header (RFC 5322 §3.2.5): Subject or a custom header. Its
 * value must already have passed `checkText`.
 *
 * @internal
 */
export const unstructured = (name: string, value: string): Array<string> => {
  if (value.length === 0) return [`${name}:`]
  if (plainText.test(value) && !value.includes("=?")) {
    const lines = fold(name, value)
    if (fitsLines(lines)) return lines
  }
  // Encoded words carry every character, and libmime keeps each short enough to fold.
  return fold(name, encodeWords(value))
}

/**
 * A display name as a phrase (RFC 5322 §3.2.5): atoms when it is plain words,
 * a quoted string when it is other short printable ASCII, encoded words
 * otherwise (non-ASCII, long, or looking like an encoded word itself).
 */
const displayName = (name: string): string => {
  if (/^[A-Za-z0-9]+( [A-Za-z0-9]+)*$/.test(name)) return name
  if (/^[\u0021-\u007e]+( [\u0021-\u007e]+)*$/.test(name) && name.length <= 64 && !name.includes("=?")) {
    return `"${name.replace(/[\\"]/g, "\\$&")}"`
  }
  return encodeWords(name)
}

/** @internal */
export interface Mailbox {
  readonly name?: string | undefined
  readonly address: string
}

/**
 * An address list header (From, To, Cc, Reply-To). Names and addresses must
 * already have passed the checks above, which keep every word short, so the
 * folded lines are always safe.
 *
 * @internal
 */
export const addressList = (name: string, mailboxes: ReadonlyArray<Mailbox>): Array<string> =>
  foldStructured(
    name,
    mailboxes.map((m) =>
      m.name === undefined || m.name.length === 0 ? m.address : `${displayName(m.name)} <${m.address}>`
    ).join(", ")
  )

/**
 * A MIME header with parameters (Content-Type, Content-Disposition); libmime
 * quotes plain values and uses RFC 2231 continuations for the rest.
 *
 * @internal
 */
export const withParams = (
  name: string,
  value: string,
  params: Record<string, string>
): Array<string> => foldStructured(name, libmime.buildHeaderValue({ value, params }))

/** @internal */
export const detectMimeType = (filename: string): string => libmime.detectMimeType(filename)

const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
const pad = (n: number): string => n.toString().padStart(2, "0")

/**
 * RFC 5322 §3.3 date-time in UTC, e.g. `Tue, 01 Jul 2003 10:52:37 +0000`.
 * Built from the UTC fields rather than `toUTCString`, whose `GMT` zone is
 * RFC 5322's obsolete syntax.
 *
 * @internal
 */
export const formatDate = (date: Date): string =>
  `${days[date.getUTCDay()]}, ${pad(date.getUTCDate())} ${months[date.getUTCMonth()]} ${date.getUTCFullYear()} ${
    pad(date.getUTCHours())
  }:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
