/**
 * List-Unsubscribe (RFC 2369) and one-click unsubscription (RFC 8058): the
 * header fields a mailbox provider reads to offer an "unsubscribe" button,
 * which Gmail and Yahoo require of bulk senders since 2024.
 */
import { SmtpError } from "@effect-smtp/client"
import * as Result from "effect/Result"
import type * as MailMessage from "../MailMessage.js"
import { type Check, checkAddress, fail } from "./headers.js"

/** A URI goes between angle brackets on one line: keep it well under 998 octets. */
const maxUriLength = 900

/**
 * A URI as List-Unsubscribe carries it: printable ASCII without the
 * brackets and quote that delimit it, and without commas, which separate the
 * URIs (RFC 2369 §2: a literal comma must be percent-encoded).
 */
const checkUri = (field: string, uri: string): Check<string> => {
  if (/[^\u0021-\u007e]/.test(uri)) {
    return fail(
      field,
      `${
        SmtpError.describeValue(uri)
      } contains white space, a control or a non-ASCII character: percent-encode it (%20, %C3%A9, ...)`
    )
  }
  if (/[<>",]/.test(uri)) {
    return fail(
      field,
      `${
        SmtpError.describeValue(uri)
      } contains <, >, " or a comma, which delimit URIs in List-Unsubscribe: percent-encode it (a comma is %2C)`
    )
  }
  if (uri.length > maxUriLength) return fail(field, `is ${uri.length} characters long; give at most ${maxUriLength}`)
  return Result.succeed(uri)
}

const checkUrl = (field: string, url: string): Check<string> => {
  if (!/^https:\/\/[^/?#]+/i.test(url)) {
    return fail(
      field,
      `${
        SmtpError.describeValue(url)
      } is not an https:// URL: one-click unsubscription POSTs to it, and RFC 8058 §3.1 requires HTTPS`
    )
  }
  return checkUri(field, url)
}

/** `unsubscribe@example.com`, or a whole `mailto:` URI (with `?subject=...`, say). */
const checkMailto = (field: string, mailto: string): Check<string> => {
  if (/^mailto:/i.test(mailto)) return checkUri(field, mailto)
  return Result.flatMap(checkAddress(field, mailto), (address) => {
    const at = address.lastIndexOf("@")
    // RFC 6068 §2: the address is percent-encoded inside the URI.
    return checkUri(
      field,
      `mailto:${encodeURIComponent(address.slice(0, at))}@${encodeURIComponent(address.slice(at + 1))}`
    )
  })
}

/** The header field names this option writes, in lower case. @internal */
export const names: ReadonlyArray<string> = ["list-unsubscribe", "list-unsubscribe-post"]

/**
 * Checks the option and renders its header lines: List-Unsubscribe with the
 * https URL first (the one a one-click client uses), then the mailto; and,
 * for one-click, List-Unsubscribe-Post.
 *
 * @internal
 */
export const headerLines = (input: MailMessage.ListUnsubscribe): Check<Array<string>> =>
  Result.gen(function*() {
    const field = "listUnsubscribe"
    if (input.url === undefined && input.mailto === undefined) {
      return yield* fail(field, "has neither url nor mailto: give an https URL, an address to write to, or both")
    }
    const url = input.url === undefined ? undefined : yield* checkUrl(`${field}.url`, input.url)
    const mailto = input.mailto === undefined ? undefined : yield* checkMailto(`${field}.mailto`, input.mailto)
    const oneClick = input.oneClick ?? url !== undefined
    if (oneClick && url === undefined) {
      return yield* fail(
        `${field}.oneClick`,
        "needs an https url: a one-click unsubscription is a POST to it (RFC 8058 §3.1)"
      )
    }
    const uris = [url, mailto].filter((u) => u !== undefined).map((u) => `<${u}>`)
    const oneLine = `List-Unsubscribe: ${uris.join(", ")}`
    // Folded between the URIs only: a URI is never broken.
    const list = oneLine.length <= 78 || uris.length === 1
      ? [oneLine]
      : [`List-Unsubscribe: ${uris[0]},`, ` ${uris[1]}`]
    return oneClick ? [...list, "List-Unsubscribe-Post: List-Unsubscribe=One-Click"] : list
  })
