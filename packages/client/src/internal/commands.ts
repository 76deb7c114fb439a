import { describeValue, InvalidInputError } from "../SmtpError.js"

/**
 * Command encoding and the input checks that make command injection
 * impossible: every argument that reaches a command line is checked here,
 * before any byte is written (CVE-2021-23400, CVE-2015-8476, cpython #87290).
 */

/** C0 controls (CR, LF and NUL among them) and DEL. */
const controlCharacter = /[\u0000-\u001f\u007f]/
const nonAscii = /[^\u0000-\u007f]/

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets. */
const maxPathOctets = 256
const encoder = new TextEncoder()

/** @internal */
export const findControl = (value: string): number => {
  const match = controlCharacter.exec(value)
  return match === null ? -1 : match.index
}

const controlMessage = (value: string, at: number): string =>
  `contains the control character ${describeValue(value.charAt(at))} at position ${at} in ${
    describeValue(value)
  }; CR, LF, NUL and other control characters could inject SMTP commands`

/** @internal */
export const checkText = (field: string, value: string): InvalidInputError | undefined => {
  const at = findControl(value)
  return at === -1 ? undefined : new InvalidInputError({ field, reason: controlMessage(value, at) })
}

/** @internal */
export const isAscii = (value: string): boolean => !nonAscii.test(value)

/**
 * Checks a mailbox for MAIL FROM / RCPT TO. `from` may be empty: the null
 * reverse-path `<>` of bounces.
 *
 * @internal
 */
export const checkAddress = (
  field: string,
  address: string,
  options: { readonly allowEmpty: boolean }
): InvalidInputError | undefined => {
  const control = checkText(field, address)
  if (control !== undefined) return control
  if (address.length === 0 && !options.allowEmpty) {
    return new InvalidInputError({ field, reason: "is empty: give an address such as user@example.com" })
  }
  if (address.includes("<") || address.includes(">")) {
    return new InvalidInputError({
      field,
      reason: `${
        describeValue(address)
      } contains "<" or ">": give the bare address (user@example.com), not a name or a bracketed path`
    })
  }
  if (/^\s|\s$/.test(address)) {
    return new InvalidInputError({ field, reason: `${describeValue(address)} has leading or trailing white space` })
  }
  const octets = encoder.encode(address).length
  if (octets > maxPathOctets) {
    return new InvalidInputError({
      field,
      reason: `is ${octets} octets long; RFC 5321 allows at most ${maxPathOctets}`
    })
  }
  return undefined
}

/**
 * Checks the EHLO name: a domain or an address literal, one word.
 *
 * @internal
 */
export const checkEhloName = (name: string): InvalidInputError | undefined => {
  const control = checkText("ehloName", name)
  if (control !== undefined) return control
  if (name.length === 0 || /\s/.test(name)) {
    return new InvalidInputError({
      field: "ehloName",
      reason: `${describeValue(name)} must be one non-empty word: a domain name or an address literal like [127.0.0.1]`
    })
  }
  if (name.length > 255) return new InvalidInputError({ field: "ehloName", reason: "is longer than 255 characters" })
  return undefined
}

/**
 * xtext (RFC 3461 §4): printable ASCII but "+" and "=" as is, the rest `+HH`.
 * Control characters are rejected before this by the caller.
 *
 * @internal
 */
export const xtext = (value: string): string => {
  let out = ""
  for (const byte of encoder.encode(value)) {
    out += byte >= 33 && byte <= 126 && byte !== 0x2b && byte !== 0x3d
      ? String.fromCharCode(byte)
      : `+${byte.toString(16).toUpperCase().padStart(2, "0")}`
  }
  return out
}

/**
 * Delivery status notification requests (RFC 3461), used when the server
 * offers DSN.
 *
 * @since 0.1.0
 * @category models
 */
export interface DsnOptions {
  /** Return the full message or only its headers in a bounce. */
  readonly ret?: "FULL" | "HDRS" | undefined
  /** The envelope identifier reported back in notifications. */
  readonly envid?: string | undefined
  /** When to notify: "NEVER", or any of "SUCCESS", "FAILURE", "DELAY". */
  readonly notify?: ReadonlyArray<"NEVER" | "SUCCESS" | "FAILURE" | "DELAY"> | undefined
  /** Report the original recipient as given (ORCPT); default true. */
  readonly orcpt?: boolean | undefined
}

/** @internal */
export const checkDsn = (dsn: DsnOptions | undefined): InvalidInputError | undefined => {
  if (dsn === undefined) return undefined
  if (dsn.envid !== undefined) {
    const control = checkText("dsn.envid", dsn.envid)
    if (control !== undefined) return control
    if (dsn.envid.length > 100) {
      return new InvalidInputError({ field: "dsn.envid", reason: "is longer than 100 characters (RFC 3461 §4.4)" })
    }
  }
  if (dsn.ret !== undefined && dsn.ret !== "FULL" && dsn.ret !== "HDRS") {
    return new InvalidInputError({ field: "dsn.ret", reason: `${describeValue(String(dsn.ret))} is not FULL or HDRS` })
  }
  if (dsn.notify !== undefined) {
    const allowed = new Set(["NEVER", "SUCCESS", "FAILURE", "DELAY"])
    for (const n of dsn.notify) {
      if (!allowed.has(n)) {
        return new InvalidInputError({
          field: "dsn.notify",
          reason: `${describeValue(String(n))} is not one of NEVER, SUCCESS, FAILURE, DELAY`
        })
      }
    }
    if (dsn.notify.includes("NEVER") && dsn.notify.length > 1) {
      return new InvalidInputError({ field: "dsn.notify", reason: "NEVER cannot be combined with other values" })
    }
  }
  return undefined
}

/** @internal */
export interface MailParameters {
  readonly size?: number | undefined
  readonly eightBitMime?: boolean | undefined
  readonly smtpUtf8?: boolean | undefined
  readonly dsn?: DsnOptions | undefined
}

/** @internal */
export const mailFrom = (from: string, params: MailParameters): string => {
  let line = `MAIL FROM:<${from}>`
  if (params.size !== undefined) line += ` SIZE=${Math.floor(params.size)}`
  if (params.eightBitMime) line += " BODY=8BITMIME"
  if (params.smtpUtf8) line += " SMTPUTF8"
  if (params.dsn?.ret !== undefined) line += ` RET=${params.dsn.ret}`
  if (params.dsn?.envid !== undefined) line += ` ENVID=${xtext(params.dsn.envid)}`
  return line + "\r\n"
}

/** @internal */
export const rcptTo = (to: string, dsn: DsnOptions | undefined): string => {
  let line = `RCPT TO:<${to}>`
  if (dsn?.notify !== undefined && dsn.notify.length > 0) line += ` NOTIFY=${dsn.notify.join(",")}`
  if (dsn !== undefined && dsn.orcpt !== false) {
    line += isAscii(to) ? ` ORCPT=rfc822;${xtext(to)}` : ` ORCPT=utf-8;${xtext(to)}`
  }
  return line + "\r\n"
}

/**
 * The checks that need no server: run before connecting, so bad input
 * writes no byte at all.
 *
 * @internal
 */
export const checkEnvelope = (envelope: {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly dsn?: DsnOptions | undefined
  readonly size?: number | undefined
}): InvalidInputError | undefined => {
  const from = checkAddress("from", envelope.from, { allowEmpty: true })
  if (from !== undefined) return from
  if (envelope.to.length === 0) {
    return new InvalidInputError({ field: "to", reason: "is empty: give at least one recipient" })
  }
  for (const to of envelope.to) {
    const invalid = checkAddress("to", to, { allowEmpty: false })
    if (invalid !== undefined) return invalid
  }
  const dsn = checkDsn(envelope.dsn)
  if (dsn !== undefined) return dsn
  if (envelope.size !== undefined && (!Number.isSafeInteger(envelope.size) || envelope.size < 0)) {
    return new InvalidInputError({ field: "size", reason: `${envelope.size} is not a whole number of bytes` })
  }
  return undefined
}
