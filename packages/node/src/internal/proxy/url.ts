/**
 * The proxy option: a URL (`socks5://`, `socks5h://`, `http://`) or the
 * structured form, checked before any connection is made. A reason never
 * repeats the URL or the password.
 */
import { InvalidInputError } from "@effect-smtp/client/SmtpError"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import type * as NodeSocket from "../../NodeSocket.js"

type ProxyOptions = NodeSocket.ProxyOptions

const encoder = new TextEncoder()
const utf8 = (text: string): Uint8Array => encoder.encode(text)

/** The IANA port of SOCKS. */
const socksPort = 1080
/** C0 controls and DEL: never allowed in a proxy's host or credentials. */
const controlCharacter = /[\u0000-\u001f\u007f]/

const invalid = (reason: string): Result.Result<never, InvalidInputError> =>
  Result.fail(new InvalidInputError({ field: "proxy", reason }))

/**
 * Checks a structured proxy configuration. Reasons never quote the password.
 *
 * @internal
 */
export const checkProxy = (options: ProxyOptions): Result.Result<ProxyOptions, InvalidInputError> => {
  const { auth, host, port, protocol } = options
  if (protocol !== "socks5" && protocol !== "socks5h" && protocol !== "http") {
    return invalid(`has the protocol ${JSON.stringify(protocol)}; expected socks5, socks5h or http`)
  }
  if (host === "" || controlCharacter.test(host) || /\s/.test(host)) {
    return invalid("has an empty host, or one with spaces or control characters")
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return invalid(`has the port ${port}; expected 1 to 65535`)
  }
  if (auth === undefined) return Result.succeed(options)
  const password = Redacted.value(auth.password)
  if (controlCharacter.test(auth.user) || controlCharacter.test(password)) {
    return invalid("has a user name or password with a control character")
  }
  if (protocol === "http") {
    // RFC 7617: the user-id of Basic authentication cannot hold a colon.
    return auth.user.includes(":")
      ? invalid("has a user name with a colon, which HTTP Basic authentication cannot carry")
      : Result.succeed(options)
  }
  // RFC 1929: ULEN is 1 to 255 octets, PLEN at most 255.
  const userLength = utf8(auth.user).length
  return userLength === 0 || userLength > 255 || utf8(password).length > 255
    ? invalid(
      "has a user name or password SOCKS5 cannot carry (the user name must be 1 to 255 bytes, the password at most 255)"
    )
    : Result.succeed(options)
}

const decodeComponent = (text: string): string | undefined => {
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}

/**
 * Parses `socks5://[user:password@]host[:port]` (the SMTP server's name is
 * resolved here), `socks5h://...` (resolved by the proxy) or
 * `http://[user:password@]host[:port]` (HTTP CONNECT). The user and password
 * are percent-decoded; the port defaults to 1080 for SOCKS5 and 80 for HTTP.
 * A reason never repeats the URL, which may hold the password.
 *
 * @internal
 */
export const parseProxyUrl = (text: string): Result.Result<ProxyOptions, InvalidInputError> => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return invalid("is not a URL; expected socks5://[user:password@]host:port, socks5h://... or http://...")
  }
  const scheme = url.protocol.slice(0, -1)
  if (scheme !== "socks5" && scheme !== "socks5h" && scheme !== "http") {
    return invalid(`has the scheme ${JSON.stringify(scheme)}; expected socks5, socks5h or http`)
  }
  if ((url.pathname !== "" && url.pathname !== "/") || url.search !== "" || url.hash !== "") {
    return invalid("has a path, query or fragment; expected only [user:password@]host:port")
  }
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  const port = url.port === "" ? (scheme === "http" ? 80 : socksPort) : Number(url.port)
  const user = decodeComponent(url.username)
  const password = decodeComponent(url.password)
  if (user === undefined || password === undefined) {
    return invalid("has a user name or password with a malformed percent-encoding")
  }
  if (user === "" && password !== "") return invalid("has a password but no user name")
  return checkProxy({
    protocol: scheme,
    host,
    port,
    auth: user === "" ? undefined : { user, password: Redacted.make(password) }
  })
}

/**
 * A proxy option as the user gave it: a URL (plain or `Redacted`, so the
 * password inside stays hidden) or the structured form.
 *
 * @internal
 */
export const resolveProxyOption = (
  option: string | Redacted.Redacted<string> | ProxyOptions
): Result.Result<ProxyOptions, InvalidInputError> =>
  typeof option === "string"
    ? parseProxyUrl(option)
    : Redacted.isRedacted(option)
    ? parseProxyUrl(Redacted.value(option))
    : checkProxy(option)
