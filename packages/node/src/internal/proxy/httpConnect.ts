/**
 * HTTP CONNECT's messages (RFC 9110 §9.3.6): the request, with Basic
 * credentials when configured, and an incremental parser of the response head.
 */
import * as Base64 from "effect/encoding/Base64"
import * as Redacted from "effect/Redacted"
import * as Net from "node:net"
import { done, incomplete, malformed, type Parsed } from "./parsed.js"

const encoder = new TextEncoder()
const utf8 = (text: string): Uint8Array => encoder.encode(text)

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
