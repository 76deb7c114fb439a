/**
 * Tunnels through a proxy: SOCKS5 (RFC 1928, with RFC 1929 username and
 * password) or HTTP CONNECT (RFC 9110 §9.3.6). The proxy URL, the handshake's
 * messages as pure encoders and incremental parsers, and the handshake over a
 * connected channel, which leaves every byte after the proxy's answer (an SMTP
 * greeting that arrived in the same segment) to the SMTP reader.
 *
 * Written here rather than taken from the `socks` package: the handshake is
 * four small messages, and it must read through the connection's own pulled
 * reads (so no byte is lost or read twice, and interruption and timeouts run
 * on Effect's fibers and Clock) rather than through listeners and wall-clock
 * timers of its own.
 */
import { InvalidInputError, ProxyError, type SocketError, type TimeoutError } from "@effect-smtp/client/SmtpError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Base64 from "effect/encoding/Base64"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Net from "node:net"
import type * as NodeSocket from "../NodeSocket.js"

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

// ---------------------------------------------------------------------------
// Incremental parsing

/**
 * What a parser made of the bytes received so far: not enough yet, a value
 * and how many bytes it took, or an answer that is not the protocol.
 *
 * @internal
 */
export type Parsed<A> =
  | { readonly _tag: "Incomplete" }
  | { readonly _tag: "Done"; readonly value: A; readonly consumed: number }
  | { readonly _tag: "Invalid"; readonly detail: string }

const incomplete: Parsed<never> = { _tag: "Incomplete" }
const done = <A>(value: A, consumed: number): Parsed<A> => ({ _tag: "Done", value, consumed })
const malformed = (detail: string): Parsed<never> => ({ _tag: "Invalid", detail })

// ---------------------------------------------------------------------------
// SOCKS5 (RFC 1928, RFC 1929)

/** @internal */
export const socksMethod = { none: 0x00, usernamePassword: 0x02, noAcceptable: 0xff } as const

/**
 * The greeting: version 5 and the methods offered. With credentials both "no
 * authentication" and "username/password" are offered; the proxy picks.
 *
 * @internal
 */
export const socksGreeting = (withCredentials: boolean): Uint8Array =>
  withCredentials
    ? Uint8Array.of(5, 2, socksMethod.none, socksMethod.usernamePassword)
    : Uint8Array.of(5, 1, socksMethod.none)

/** @internal */
export const parseSocksMethod = (bytes: Uint8Array): Parsed<number> => {
  if (bytes.length < 2) return incomplete
  return bytes[0] === 5
    ? done(bytes[1] ?? 0, 2)
    : malformed(`the answer to the SOCKS5 greeting starts with byte ${bytes[0]}, not 5: not a SOCKS5 proxy`)
}

/**
 * RFC 1929's request: version 1, then the user name and password, each with
 * its length.
 *
 * @internal
 */
export const socksCredentials = (user: string, password: string): Uint8Array => {
  const name = utf8(user)
  const secret = utf8(password)
  const out = new Uint8Array(3 + name.length + secret.length)
  out[0] = 1
  out[1] = name.length
  out.set(name, 2)
  out[2 + name.length] = secret.length
  out.set(secret, 3 + name.length)
  return out
}

/**
 * RFC 1929's answer: a version byte (1, though some proxies send 5) and the
 * status, 0 for success.
 *
 * @internal
 */
export const parseSocksAuthStatus = (bytes: Uint8Array): Parsed<number> =>
  bytes.length < 2 ? incomplete : done(bytes[1] ?? 0, 2)

/**
 * The 16 bytes of an IPv6 literal (a zone, `%eth0`, is dropped: SOCKS cannot
 * carry it). `undefined` when `text` is not one.
 *
 * @internal
 */
export const ipv6Bytes = (text: string): Uint8Array | undefined => {
  const address = text.split("%")[0] ?? ""
  if (!Net.isIPv6(address)) return undefined
  const halves = address.split("::")
  const groupsOf = (part: string): Array<number> => {
    if (part === "") return []
    const groups: Array<number> = []
    for (const piece of part.split(":")) {
      if (piece.includes(".")) {
        // An embedded IPv4 address: its four bytes are two groups.
        const [a = 0, b = 0, c = 0, d = 0] = piece.split(".").map(Number)
        groups.push((a << 8) | b, (c << 8) | d)
      } else {
        groups.push(Number.parseInt(piece, 16))
      }
    }
    return groups
  }
  const head = groupsOf(halves[0] ?? "")
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? "") : []
  const zeros = 8 - head.length - tail.length
  const groups = [...head, ...Array<number>(Math.max(0, zeros)).fill(0), ...tail]
  if (groups.length !== 8) return undefined
  const out = new Uint8Array(16)
  groups.forEach((group, i) => {
    out[2 * i] = group >> 8
    out[2 * i + 1] = group & 0xff
  })
  return out
}

/**
 * The CONNECT request for `host` (an IPv4 or IPv6 literal, or a name the proxy
 * resolves) and `port`. `undefined` for a name over 255 bytes, which SOCKS5
 * cannot carry.
 *
 * @internal
 */
export const socksConnect = (host: string, port: number): Uint8Array | undefined => {
  let address: Uint8Array
  if (Net.isIPv4(host)) {
    address = Uint8Array.of(1, ...host.split(".").map(Number))
  } else {
    const v6 = ipv6Bytes(host)
    if (v6 !== undefined) {
      address = new Uint8Array(17)
      address[0] = 4
      address.set(v6, 1)
    } else {
      const name = utf8(host)
      if (name.length === 0 || name.length > 255) return undefined
      address = new Uint8Array(2 + name.length)
      address[0] = 3
      address[1] = name.length
      address.set(name, 2)
    }
  }
  const out = new Uint8Array(3 + address.length + 2)
  out.set([5, 1, 0], 0)
  out.set(address, 3)
  out[out.length - 2] = port >> 8
  out[out.length - 1] = port & 0xff
  return out
}

/**
 * The reply to CONNECT: its REP byte, 0 for success. A failure is decided as
 * soon as REP arrives, because some proxies close without sending the rest.
 * On success the whole reply is consumed; its bound address is the proxy's
 * own outgoing address, which the client has no use for.
 *
 * @internal
 */
export const parseSocksReply = (bytes: Uint8Array): Parsed<number> => {
  if (bytes.length < 2) return incomplete
  if (bytes[0] !== 5) {
    return malformed(`the reply to CONNECT starts with byte ${bytes[0]}, not 5: not a SOCKS5 proxy`)
  }
  const rep = bytes[1] ?? 0
  if (rep !== 0) return done(rep, bytes.length)
  if (bytes.length < 5) return incomplete
  const atyp = bytes[3]
  const addressLength = atyp === 1 ? 4 : atyp === 4 ? 16 : atyp === 3 ? 1 + (bytes[4] ?? 0) : undefined
  if (addressLength === undefined) {
    return malformed(`the reply to CONNECT has the address type ${atyp}, which RFC 1928 does not define`)
  }
  const length = 4 + addressLength + 2
  return bytes.length < length ? incomplete : done(0, length)
}

/** RFC 1928 §6's reply codes, as a person reads them. */
const socksReplies: Record<number, string> = {
  1: "general SOCKS server failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported"
}

/** @internal */
export const describeSocksReply = (rep: number): string =>
  `SOCKS5 reply ${rep}: ${socksReplies[rep] ?? "unassigned code"}`

// ---------------------------------------------------------------------------
// HTTP CONNECT

/** A CONNECT's response head longer than this is not an HTTP proxy's. */
const maxHeadBytes = 16 * 1024

/** `host:port` as a request target; an IPv6 literal in brackets (RFC 9110 §7.2). */
const authority = (host: string, port: number): string => Net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`

/** @internal */
export const httpConnect = (
  host: string,
  port: number,
  auth: { readonly user: string; readonly password: Redacted.Redacted<string> } | undefined
): Uint8Array => {
  const target = authority(host, port)
  const credentials = auth === undefined
    ? ""
    : `Proxy-Authorization: Basic ${Base64.encode(`${auth.user}:${Redacted.value(auth.password)}`)}\r\n`
  return utf8(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${credentials}\r\n`)
}

/** @internal */
export interface HttpStatus {
  readonly status: number
  readonly reason: string
}

const latin1 = new TextDecoder("latin1")

/**
 * The response head to CONNECT, up to and including its empty line. Only the
 * status line matters: a 2xx opens the tunnel, and the bytes after the head
 * already belong to the SMTP server.
 *
 * @internal
 */
export const parseHttpHead = (bytes: Uint8Array): Parsed<HttpStatus> => {
  let end = -1
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) {
      end = i + 1
      break
    }
  }
  if (end === -1) {
    return bytes.length > maxHeadBytes
      ? malformed(`no end of the response head within ${maxHeadBytes} bytes`)
      : incomplete
  }
  const statusLine = latin1.decode(bytes.subarray(0, bytes.indexOf(13)))
  const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine)
  if (match === null) {
    return malformed(`the answer to CONNECT is not an HTTP/1.x status line: ${statusLine.slice(0, 80)}`)
  }
  return done({ status: Number(match[1]), reason: match[2] ?? "" }, end)
}

// ---------------------------------------------------------------------------
// The handshake

/**
 * The connection's byte stream as the handshake sees it: its reads and writes,
 * and `unread` to hand bytes after the proxy's answer back to the next reader.
 *
 * @internal
 */
export interface Channel {
  readonly read: Effect.Effect<Uint8Array, SocketError>
  readonly write: (data: Uint8Array) => Effect.Effect<void, SocketError | TimeoutError>
  readonly unread: (data: Uint8Array) => void
}

/**
 * Where the tunnel should lead: the SMTP server, by name or (socks5) by the
 * IP resolved here.
 *
 * @internal
 */
export interface Destination {
  /** The host name the user configured, for messages. */
  readonly host: string
  /** What the proxy is asked to connect to: `host`, or its IP for socks5. */
  readonly address: string
  readonly port: number
}

/**
 * Builds the failures of one proxy on the way to one SMTP server.
 *
 * @internal
 */
export const proxyFailure = (
  proxy: ProxyOptions,
  server: { readonly host: string; readonly port: number }
) =>
(
  reason: ProxyError["reason"],
  extra: {
    readonly code?: string | undefined
    readonly reply?: number | undefined
    readonly detail?: string | undefined
    readonly timeout?: Duration.Duration | undefined
    readonly cause?: unknown
  } = {}
): ProxyError =>
  new ProxyError({
    reason,
    protocol: proxy.protocol,
    proxy: `${proxy.host}:${proxy.port}`,
    host: server.host,
    port: server.port,
    ...extra
  })

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

/**
 * The proxy's answers and failures for one tunnel.
 *
 * @internal
 */
export const tunnel = (
  channel: Channel,
  proxy: ProxyOptions,
  destination: Destination
): Effect.Effect<void, ProxyError> => {
  const failure = proxyFailure(proxy, destination)

  const lost = (error: SocketError | TimeoutError) =>
    failure("HandshakeFailed", {
      detail: "the proxy closed the connection during the handshake",
      code: error._tag === "SocketError" ? error.code : undefined,
      cause: error
    })

  const send = (data: Uint8Array) => Effect.mapError(channel.write(data), lost)

  /** Reads until `parse` has a whole answer; what follows it goes back to the channel. */
  const receive = <A>(parse: (bytes: Uint8Array) => Parsed<A>): Effect.Effect<A, ProxyError> =>
    Effect.suspend(() => {
      let buffered: Uint8Array = new Uint8Array(0)
      const loop: Effect.Effect<A, ProxyError> = Effect.flatMap(Effect.mapError(channel.read, lost), (chunk) => {
        buffered = concat(buffered, chunk)
        const parsed = parse(buffered)
        switch (parsed._tag) {
          case "Incomplete":
            return loop
          case "Invalid":
            return Effect.fail(failure("HandshakeFailed", { detail: parsed.detail }))
          case "Done":
            if (parsed.consumed < buffered.length) channel.unread(buffered.subarray(parsed.consumed))
            return Effect.succeed(parsed.value)
        }
      })
      return loop
    })

  const socks5 = Effect.gen(function*() {
    const auth = proxy.auth
    yield* send(socksGreeting(auth !== undefined))
    const method = yield* receive(parseSocksMethod)
    if (method === socksMethod.noAcceptable) {
      return yield* failure("AuthenticationFailed", {
        reply: method,
        detail: auth === undefined
          ? "the proxy requires authentication and the URL has no user name and password"
          : "the proxy accepts neither username/password nor no authentication"
      })
    }
    if (method === socksMethod.usernamePassword && auth !== undefined) {
      yield* send(socksCredentials(auth.user, Redacted.value(auth.password)))
      const status = yield* receive(parseSocksAuthStatus)
      if (status !== 0) {
        return yield* failure("AuthenticationFailed", {
          reply: status,
          detail: `the proxy rejected the user name or password (RFC 1929 status ${status})`
        })
      }
    } else if (method !== socksMethod.none) {
      return yield* failure("HandshakeFailed", {
        reply: method,
        detail: `the proxy chose method ${method}, not offered`
      })
    }
    const request = socksConnect(destination.address, destination.port)
    if (request === undefined) {
      return yield* failure("HandshakeFailed", { detail: "the host name is longer than SOCKS5's 255 bytes" })
    }
    yield* send(request)
    const rep = yield* receive(parseSocksReply)
    if (rep === 0) return
    const detail = describeSocksReply(rep)
    return yield* rep === 2
      ? failure("Refused", { reply: rep, detail })
      : rep === 7 || rep === 8
      ? failure("HandshakeFailed", {
        reply: rep,
        detail: proxy.protocol === "socks5h" ? `${detail}; socks5:// resolves the name locally instead` : detail
      })
      : failure("TargetUnreachable", { reply: rep, detail })
  })

  const http = Effect.gen(function*() {
    yield* send(httpConnect(destination.address, destination.port, proxy.auth))
    const { reason, status } = yield* receive(parseHttpHead)
    if (status >= 200 && status < 300) return
    const detail = `${status} ${reason}`.trim()
    // tinyproxy answers a wrong password with 401, a missing one with 407.
    return yield* status === 401 || status === 407
      ? failure("AuthenticationFailed", { reply: status, detail })
      : status >= 500
      ? failure("TargetUnreachable", { reply: status, detail })
      : failure("Refused", { reply: status, detail })
  })

  return proxy.protocol === "http" ? http : socks5
}
