/**
 * The signing options, checked: what `h=` may name, the domain, selector and
 * identity as DKIM's grammar has them, and the defaults.
 */
import { SmtpError } from "@effect-smtp/client"
import * as Duration from "effect/Duration"
import * as Result from "effect/Result"
import type * as Dkim from "../Dkim.js"
import type { Canonicalization } from "./dkimCanonical.js"
import { type Check, fail as invalid } from "./headers.js"

/** @internal */
export const defaultHeaders: ReadonlyArray<string> = [
  "from",
  "sender",
  "reply-to",
  "subject",
  "date",
  "message-id",
  "to",
  "cc",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "content-id",
  "content-description",
  "resent-date",
  "resent-from",
  "resent-sender",
  "resent-to",
  "resent-cc",
  "resent-message-id",
  "in-reply-to",
  "references",
  "list-id",
  "list-help",
  "list-unsubscribe",
  "list-unsubscribe-post",
  "list-subscribe",
  "list-post",
  "list-owner",
  "list-archive"
]

/** @internal */
export const defaultOversign: ReadonlyArray<string> = [
  "from",
  "reply-to",
  "subject",
  "date",
  "message-id",
  "to",
  "cc",
  "list-unsubscribe",
  "list-unsubscribe-post"
]

/** RFC 6376 §5.4 requires From; RFC 8058 §4 requires the one-click pair, whenever present. */
const alwaysSigned = ["from", "list-unsubscribe", "list-unsubscribe-post"]

/** @internal */
export interface Checked {
  readonly domain: string
  readonly selector: string
  readonly header: Canonicalization
  readonly body: Canonicalization
  readonly headers: ReadonlyArray<string>
  readonly oversign: ReadonlySet<string>
  readonly bodyLength: boolean
  readonly identity: string | undefined
  readonly expiresInSeconds: number | undefined
}

const label = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
const domainName = new RegExp(`^${label}(?:\\.${label})*$`)
const selectorLabel = "[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
const selectorName = new RegExp(`^${selectorLabel}(?:\\.${selectorLabel})*$`)
const maxNameLength = 200

/** RFC 5322 §3.6.8 field names: printable ASCII but the colon. */
const fieldName = /^[\u0021-\u0039\u003b-\u007e]+$/
/** The local part of `i=`, without "=" and ";" (which `i=` would have to quote). */
const identityLocal = /^[A-Za-z0-9!#$%&'*+/?^_`{|}~.-]*$/

const canonicalizations: ReadonlyArray<Dkim.Canonicalization> = [
  "relaxed/relaxed",
  "simple/simple",
  "relaxed/simple",
  "simple/relaxed"
]

const checkDomain = (field: string, domain: string): Check<string> => {
  if (/[^\u0000-\u007f]/.test(domain)) {
    return invalid(
      field,
      `${
        SmtpError.describeValue(domain)
      } is not ASCII: give the domain's A-label (punycode) form, such as xn--mnchen-3ya.de (RFC 6376 §3.5)`
    )
  }
  if (!domainName.test(domain) || domain.length > 253) {
    return invalid(field, `${SmtpError.describeValue(domain)} is not a domain name such as example.com`)
  }
  return Result.succeed(domain)
}

const checkNames = (field: string, names: ReadonlyArray<string>): Check<Array<string>> =>
  Result.gen(function*() {
    const result: Array<string> = []
    for (const [i, name] of names.entries()) {
      if (!fieldName.test(name)) {
        return yield* invalid(
          `${field}[${i}]`,
          `${SmtpError.describeValue(name)} is not a header field name (printable ASCII without spaces or ":")`
        )
      }
      // h= is folded between names only: each must fit a line.
      if (name.length > maxNameLength) {
        return yield* invalid(`${field}[${i}]`, `is ${name.length} characters long; give at most ${maxNameLength}`)
      }
      const lower = name.toLowerCase()
      if (lower === "dkim-signature") {
        return yield* invalid(
          `${field}[${i}]`,
          "DKIM-Signature is signed implicitly (RFC 6376 §3.5): leave it out of the list"
        )
      }
      if (!result.includes(lower)) result.push(lower)
    }
    return result
  })

/** @internal */
export const checkOptions = (field: string, options: Dkim.Options): Check<Checked> =>
  Result.gen(function*() {
    const domain = yield* checkDomain(`${field}.domain`, options.domain)
    if (!selectorName.test(options.selector)) {
      return yield* invalid(
        `${field}.selector`,
        `${
          SmtpError.describeValue(options.selector)
        } is not a selector: one or more DNS labels (letters, digits, "-", "_"), such as s2025`
      )
    }
    const keyName = `${options.selector}._domainkey.${domain}`
    if (keyName.length > 253) {
      return yield* invalid(
        `${field}.selector`,
        `makes the key's DNS name ${keyName.length} characters long; a DNS name has at most 253`
      )
    }
    const canonicalization = options.canonicalization ?? "relaxed/relaxed"
    if (!canonicalizations.includes(canonicalization)) {
      return yield* invalid(
        `${field}.canonicalization`,
        `${SmtpError.describeValue(String(canonicalization))} is not one of ${canonicalizations.join(", ")}`
      )
    }
    const [header, body] = canonicalization.split("/") as [Canonicalization, Canonicalization]
    const headers = yield* checkNames(`${field}.headers`, options.headers ?? defaultHeaders)
    const oversign = yield* checkNames(`${field}.oversign`, options.oversign ?? defaultOversign)
    let identity: string | undefined = undefined
    if (options.identity !== undefined) {
      const at = options.identity.lastIndexOf("@")
      const local = at === -1 ? "" : options.identity.slice(0, at)
      const idDomain = options.identity.slice(at + 1).toLowerCase()
      if (at === -1 || local.length > 64 || !identityLocal.test(local) || !domainName.test(idDomain)) {
        return yield* invalid(
          `${field}.identity`,
          `${SmtpError.describeValue(options.identity)} is not an identity such as user@example.com or @example.com`
        )
      }
      const d = domain.toLowerCase()
      if (idDomain !== d && !idDomain.endsWith(`.${d}`)) {
        return yield* invalid(
          `${field}.identity`,
          `${
            SmtpError.describeValue(options.identity)
          } is not at ${domain} or a subdomain of it, as RFC 6376 §3.5 requires of i=`
        )
      }
      identity = options.identity
    }
    let expiresInSeconds: number | undefined = undefined
    if (options.expiresIn !== undefined) {
      const duration = Duration.fromInput(options.expiresIn)
      const seconds = duration._tag === "Some" ? Math.ceil(Duration.toSeconds(duration.value)) : Number.NaN
      if (!(seconds >= 1) || !Number.isFinite(seconds)) {
        return yield* invalid(`${field}.expiresIn`, "must be a finite duration of at least one second")
      }
      expiresInSeconds = seconds
    }
    return {
      domain,
      selector: options.selector,
      header,
      body,
      headers: [...headers, ...alwaysSigned.filter((name) => !headers.includes(name))],
      oversign: new Set(oversign),
      bodyLength: options.bodyLength === true,
      identity,
      expiresInSeconds
    }
  })
