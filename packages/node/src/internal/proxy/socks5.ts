/**
 * SOCKS5's messages (RFC 1928, with RFC 1929 username and password): pure
 * encoders for what the client sends and incremental parsers for what the
 * proxy answers.
 */
import * as Net from "node:net"
import { done, incomplete, malformed, type Parsed } from "./parsed.js"

const encoder = new TextEncoder()
const utf8 = (text: string): Uint8Array => encoder.encode(text)

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
