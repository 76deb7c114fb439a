/**
 * The replies that describe the server: multi-line replies, and the EHLO
 * keywords that follow from its options.
 */
import type { Mechanism, Options } from "../../TestServer.js"

/** @internal */
export const withCrlf = (text: string): string => (text.endsWith("\r\n") ? text : `${text}\r\n`)

/** @internal */
export const multiline = (code: number, texts: ReadonlyArray<string>): string =>
  texts.map((t, i) => `${code}${i === texts.length - 1 ? " " : "-"}${t}\r\n`).join("")

/** The SASL mechanisms offered: the configured ones, or those the credentials allow. */
const mechanisms = (options: Options): ReadonlyArray<Mechanism> => {
  const auth = options.auth
  if (auth === undefined) return []
  return auth.mechanisms ?? [
    ...(auth.password !== undefined ? ["PLAIN" as const, "LOGIN" as const] : []),
    ...(auth.accessToken !== undefined ? ["OAUTHBEARER" as const, "XOAUTH2" as const] : [])
  ]
}

/**
 * The EHLO reply. `offerStartTls`: whether STARTTLS is offered before TLS is on.
 *
 * @internal
 */
export const ehloReply = (options: Options, hostname: string, offerStartTls: boolean, tls: boolean): string => {
  let keywords: Array<string>
  if (options.capabilities !== undefined) {
    keywords = options.capabilities.filter((c) => !(tls && c.toUpperCase() === "STARTTLS"))
  } else {
    keywords = []
    if (options.pipelining ?? true) keywords.push("PIPELINING")
    keywords.push("8BITMIME", "ENHANCEDSTATUSCODES")
    if (options.chunking === true) keywords.push("CHUNKING")
    if (offerStartTls && !tls) keywords.push("STARTTLS")
    const offered = mechanisms(options)
    if (offered.length > 0) keywords.push(`AUTH ${offered.join(" ")}`)
    keywords.push(...(options.extensions ?? []))
  }
  if (options.hideStartTls === true) keywords = keywords.map((k) => (k.toUpperCase() === "STARTTLS" ? "XXXXXXXA" : k))
  return multiline(250, [hostname, ...keywords])
}
