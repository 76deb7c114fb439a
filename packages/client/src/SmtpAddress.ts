/**
 * The one checker of addresses and free text that reach the wire: the
 * client's envelope (MAIL FROM, RCPT TO), the EHLO name and AUTH user, and
 * the headers of `@effect-smtp/message`. Every check runs before any byte is
 * written, so a value can never end a command or a header early and smuggle
 * in another (CVE-2021-23400, CVE-2015-8476, cpython #87290).
 *
 * @since 0.1.0
 */
import { describeValue, InvalidInputError } from "./SmtpError.js"

/**
 * C0 controls (CR, LF, NUL, TAB, ...), DEL and C1 controls (NEL among them),
 * and the Unicode line and paragraph separators: anything a reader could take
 * for the end of a line.
 */
const controlCharacter = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/

/** A UTF-16 surrogate without its other half: it has no UTF-8 form, and would silently become U+FFFD. */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

const nonAscii = /[^\u0000-\u007f]/

/** RFC 5322 atext, plus any non-ASCII character for RFC 6531/6532 addresses. */
const localPart = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uffff]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uffff]+)*$/
const domainName = /^[A-Za-z0-9\-\u0080-\uffff]+(\.[A-Za-z0-9\-\u0080-\uffff]+)*$/
const addressLiteral = /^\[[\u0021-\u005a\u005e-\u007e]+\]$/

/**
 * RFC 5321 §4.1.2's Quoted-string local part: qtextSMTP (printable ASCII but
 * `"` and `\`, space included; any non-ASCII character for RFC 6531) or a
 * quoted-pairSMTP (`\` and a printable ASCII character or space).
 */
const quotedLocalPart = /^"(?:[\u0020\u0021\u0023-\u005b\u005d-\u007e\u0080-\uffff]|\\[\u0020-\u007e])*"$/

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets, the address inside its brackets 254. */
const maxAddressOctets = 254

const utf8 = new TextEncoder()

/**
 * The number of UTF-8 octets of `text`.
 *
 * @since 0.1.0
 * @category utils
 */
export const octets = (text: string): number => isAscii(text) ? text.length : utf8.encode(text).length

/**
 * Whether `value` is plain ASCII (an address that needs no SMTPUTF8).
 *
 * @since 0.1.0
 * @category utils
 */
export const isAscii = (value: string): boolean => !nonAscii.test(value)

/**
 * Checks one line of free text (an AUTH user, a DSN envelope ID, a header's
 * text): no control character, no line separator, no damaged UTF-16.
 *
 * @since 0.1.0
 * @category checks
 */
export const checkText = (field: string, value: string): InvalidInputError | undefined => {
  const lone = loneSurrogate.exec(value)
  if (lone !== null) {
    return new InvalidInputError({
      field,
      reason:
        `contains an unpaired UTF-16 surrogate at position ${lone.index}, which has no UTF-8 form: the text is damaged`
    })
  }
  const match = controlCharacter.exec(value)
  if (match === null) return undefined
  const at = match.index
  return new InvalidInputError({
    field,
    reason: `contains the control character ${describeValue(value.charAt(at))} at position ${at} in ${
      describeValue(value)
    }; CR, LF, NUL and other control characters could inject SMTP commands or message headers`
  })
}

/**
 * The end of a quoted local part that starts `address`: the index of its
 * closing quote, or -1 when the quotes are unbalanced (a quote never closed,
 * or a backslash escaping nothing).
 */
const closingQuote = (address: string): number => {
  for (let i = 1; i < address.length; i++) {
    const c = address.charCodeAt(i)
    if (c === 0x5c) i++ // a quoted-pair: the next character is taken as it is
    else if (c === 0x22) return i
  }
  return -1
}

/**
 * Checks one mailbox address, `local@domain`: a dot-atom local part (UTF-8
 * allowed, for SMTPUTF8) or a quoted one as RFC 5321 §4.1.2 writes it
 * (`"john doe"@example.com`, with `\"` and `\\` escaped), and a domain name or
 * address literal, at most 254 octets. `allowEmpty` admits the null
 * reverse-path `<>` of bounces (MAIL FROM only). Control characters (CR, LF,
 * NUL, TAB, ...) are refused everywhere, quoted or not, and so are `<` and
 * `>`: RFC 5321 allows them inside quotes, but a server that reads a path up
 * to its first `>` would take another address.
 *
 * @since 0.1.0
 * @category checks
 */
export const checkAddress = (
  field: string,
  address: string,
  options?: { readonly allowEmpty?: boolean | undefined } | undefined
): InvalidInputError | undefined => {
  const text = checkText(field, address)
  if (text !== undefined) return text
  if (address.length === 0) {
    return options?.allowEmpty === true
      ? undefined
      : new InvalidInputError({ field, reason: "is empty: give an address such as user@example.com" })
  }
  if (address.includes("<") || address.includes(">")) {
    return new InvalidInputError({
      field,
      reason: `${
        describeValue(address)
      } contains "<" or ">": give the bare address (user@example.com), not a name or a bracketed path`
    })
  }
  const quoted = address.startsWith("\"")
  const close = quoted ? closingQuote(address) : -1
  if (quoted && close === -1) {
    return new InvalidInputError({
      field,
      reason: `${
        describeValue(address)
      } has an unbalanced quote: a quoted local part is closed by a quote, and a backslash escapes the next character ("john \\"j\\" doe"@example.com)`
    })
  }
  // Spaces are allowed only inside the quotes of a quoted local part.
  if (/\s/.test(quoted ? address.slice(close + 1) : address) || (quoted && /[^\S ]/.test(address))) {
    return new InvalidInputError({
      field,
      reason: `${
        describeValue(address)
      } contains white space: give the bare address (a space in the local part goes inside quotes, "john doe"@example.com)`
    })
  }
  const at = quoted ? close + 1 : address.lastIndexOf("@")
  const local = at === -1 ? "" : address.slice(0, at)
  const domain = at === -1 || address.charAt(at) !== "@" ? "" : address.slice(at + 1)
  if (
    !(quoted ? quotedLocalPart.test(local) : localPart.test(local)) ||
    !(domainName.test(domain) || addressLiteral.test(domain))
  ) {
    return new InvalidInputError({
      field,
      reason: `${
        describeValue(address)
      } is not an address of the form user@example.com or "john doe"@example.com (comments are not supported)`
    })
  }
  const size = octets(address)
  if (size > maxAddressOctets) {
    return new InvalidInputError({
      field,
      reason: `is ${size} octets long; RFC 5321 allows at most ${maxAddressOctets}`
    })
  }
  return undefined
}
