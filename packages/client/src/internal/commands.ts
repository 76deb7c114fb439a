import { checkAddress, checkText, isAscii } from "../SmtpAddress.js"
import { describeValue, InvalidInputError } from "../SmtpError.js"
import type { DsnOptions } from "../SmtpProtocol.js"

/**
 * Every command line, rendered here and nowhere else, and the checks of the
 * arguments that reach them (through `SmtpAddress`, the one checker of
 * addresses and text), made before any byte is written.
 */

const encoder = new TextEncoder()

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
  readonly requireTls?: boolean | undefined
}

/** @internal */
export const ehlo = (name: string): string => `EHLO ${name}\r\n`

/** LMTP's greeting command (RFC 2033 §4.1). @internal */
export const lhlo = (name: string): string => `LHLO ${name}\r\n`

/** @internal */
export const helo = (name: string): string => `HELO ${name}\r\n`

/** @internal */
export const startTls = "STARTTLS\r\n"

/** AUTH with the initial response when the mechanism has one (RFC 4954 §4). @internal */
export const auth = (mechanism: string, initialResponse: string | undefined): string =>
  initialResponse === undefined ? `AUTH ${mechanism}\r\n` : `AUTH ${mechanism} ${initialResponse}\r\n`

/** The answer to a 334 challenge: one base64 line. @internal */
export const authResponse = (response: string): string => `${response}\r\n`

/** Cancels an AUTH exchange (RFC 4954 §4). @internal */
export const authCancel = "*\r\n"

/** @internal */
export const data = "DATA\r\n"

/** @internal */
export const bdat = (length: number, last: boolean): string => `BDAT ${length}${last ? " LAST" : ""}\r\n`

/** @internal */
export const rset = "RSET\r\n"

/** @internal */
export const noop = "NOOP\r\n"

/** @internal */
export const quit = "QUIT\r\n"

/** @internal */
export const mailFrom = (from: string, params: MailParameters): string => {
  let line = `MAIL FROM:<${from}>`
  if (params.size !== undefined) line += ` SIZE=${Math.floor(params.size)}`
  if (params.eightBitMime) line += " BODY=8BITMIME"
  if (params.smtpUtf8) line += " SMTPUTF8"
  if (params.dsn?.ret !== undefined) line += ` RET=${params.dsn.ret}`
  if (params.dsn?.envid !== undefined) line += ` ENVID=${xtext(params.dsn.envid)}`
  if (params.requireTls) line += " REQUIRETLS"
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
    const invalid = checkAddress("to", to)
    if (invalid !== undefined) return invalid
  }
  const dsn = checkDsn(envelope.dsn)
  if (dsn !== undefined) return dsn
  if (envelope.size !== undefined && (!Number.isSafeInteger(envelope.size) || envelope.size < 0)) {
    return new InvalidInputError({ field: "size", reason: `${envelope.size} is not a whole number of bytes` })
  }
  return undefined
}
