/**
 * The proxy handshakes without a network: the proxy URL, the SOCKS5 and HTTP
 * CONNECT messages, and the handshake over an in-memory channel that hands
 * out the proxy's bytes split at arbitrary points.
 */
import { SocketError } from "@effect-smtp/client/SmtpError"
import { effectProp, fc, prop } from "@effect-smtp/test-utils/property"
import { describe, expect, it } from "@effect/vitest"
import * as Bytes from "effect/Bytes"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { httpConnect, parseHttpHead } from "../src/internal/proxy/httpConnect.js"
import { ipv6Bytes, parseSocksReply, socksConnect } from "../src/internal/proxy/socks5.js"
import { type Channel, tunnel } from "../src/internal/proxy/tunnel.js"
import { parseProxyUrl, resolveProxyOption } from "../src/internal/proxy/url.js"
import type { ProxyOptions } from "../src/NodeSocket.js"

const encoder = new TextEncoder()
const bytes = (text: string) => encoder.encode(text)
const text = (data: Uint8Array) => new TextDecoder().decode(data)

/** `data` cut at the given offsets (taken modulo its length, so any offsets fit). */
const splitAt = (data: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((cut) => data.length === 0 ? 0 : cut % data.length))]
    .filter((cut) => cut > 0)
    .sort((a, b) => a - b)
  const parts: Array<Uint8Array> = []
  let from = 0
  for (const point of points) {
    parts.push(data.subarray(from, point))
    from = point
  }
  parts.push(data.subarray(from))
  return parts
}

/**
 * A proxy's side in memory: it hands out `incoming` chunk by chunk, records
 * what the client writes, and keeps what the client gives back. `rest` is
 * what the next reader (SMTP) would get.
 */
const memoryChannel = (incoming: ReadonlyArray<Uint8Array>) => {
  const queue = [...incoming]
  const written: Array<Uint8Array> = []
  const channel: Channel = {
    read: Effect.suspend(() => {
      const chunk = queue.shift()
      return chunk === undefined
        ? Effect.fail(new SocketError({ operation: "closed", host: "proxy.test", port: 1080 }))
        : Effect.succeed(chunk)
    }),
    write: (data) => Effect.sync(() => void written.push(data.slice())),
    unread: (data) => void queue.unshift(data.slice())
  }
  return { channel, written: () => Bytes.concat(written), rest: () => Bytes.concat(queue) }
}

const socks = (protocol: "socks5" | "socks5h", auth?: { user: string; password: string }): ProxyOptions => ({
  protocol,
  host: "proxy.test",
  port: 1080,
  auth: auth === undefined ? undefined : { user: auth.user, password: Redacted.make(auth.password) }
})

const destination = { host: "mail.example.com", address: "mail.example.com", port: 587 }
const greeting = bytes("220 mail.example.com ESMTP ready\r\n")

const cuts = fc.array(fc.nat({ max: 400 }), { maxLength: 12 })

describe("proxy URL", () => {
  const parsed = (url: string) => Result.getOrThrow(parseProxyUrl(url))

  it("socks5 with percent-encoded credentials and the default port", () => {
    const proxy = parsed("socks5://me%40corp:p%40ss%3Aw%2Frd@proxy.example.com")
    expect(proxy).toMatchObject({ protocol: "socks5", host: "proxy.example.com", port: 1080 })
    expect(proxy.auth?.user).toBe("me@corp")
    expect(Redacted.value(proxy.auth!.password)).toBe("p@ss:w/rd")
  })

  it("socks5h, http, an IPv6 literal, and http's default port 80", () => {
    expect(parsed("socks5h://127.0.0.1:2570")).toMatchObject({ protocol: "socks5h", host: "127.0.0.1", port: 2570 })
    expect(parsed("http://[::1]:3128/")).toMatchObject({ protocol: "http", host: "::1", port: 3128, auth: undefined })
    expect(parsed("http://proxy.test").port).toBe(80)
  })

  it("a Redacted URL is read like a plain one", () => {
    const proxy = Result.getOrThrow(resolveProxyOption(Redacted.make("socks5://u:secret@h:1")))
    expect(Redacted.value(proxy.auth!.password)).toBe("secret")
  })

  it.each([
    ["https://u:hunter2@proxy:443", "scheme"],
    ["socks4://u:hunter2@proxy:1080", "scheme"],
    ["socks5://u:hunter2@proxy:1080/path", "path"],
    ["socks5://u:hunter2@proxy:1080?x=1", "query"],
    ["socks5://:hunter2@proxy:1080", "no user name"],
    ["socks5://u:hunter2%zz@proxy:1080", "percent-encoding"],
    ["http://a%3Ab:hunter2@proxy:8080", "colon"],
    ["not a url hunter2", "not a URL"]
  ])("%s is refused (%s), without repeating the password", (url, why) => {
    const error = Result.flip(parseProxyUrl(url)).pipe(Result.getOrThrow)
    expect(error._tag).toBe("InvalidInputError")
    expect(error.field).toBe("proxy")
    expect(error.message).toContain(why)
    expect(error.message).not.toContain("hunter2")
  })

  it("a user name over SOCKS5's 255 bytes is refused", () => {
    expect(Result.isFailure(parseProxyUrl(`socks5://${"u".repeat(256)}:p@proxy:1080`))).toBe(true)
    expect(Result.isSuccess(parseProxyUrl(`socks5://${"u".repeat(255)}:p@proxy:1080`))).toBe(true)
  })
})

describe("SOCKS5 messages", () => {
  it("CONNECT carries an IPv4 address, an IPv6 address or a name, and the port big-endian", () => {
    expect(Array.from(socksConnect("192.0.2.7", 587)!)).toEqual([5, 1, 0, 1, 192, 0, 2, 7, 2, 75])
    expect(Array.from(socksConnect("::1", 25)!)).toEqual([5, 1, 0, 4, ...Array(15).fill(0), 1, 0, 25])
    expect(Array.from(socksConnect("mx.test", 465)!)).toEqual([5, 1, 0, 3, 7, ...bytes("mx.test"), 1, 209])
    expect(socksConnect("a".repeat(256), 25)).toBeUndefined()
  })

  prop(
    "an IPv6 address's bytes do not depend on how it is written (full, compressed, with embedded IPv4)",
    [fc.uint8Array({ minLength: 16, maxLength: 16 })],
    ([address]) => {
      const groups = Array.from({ length: 8 }, (_, i) => ((address[2 * i]! << 8) | address[2 * i + 1]!).toString(16))
      const full = groups.join(":")
      // The URL parser writes the RFC 5952 form: lower case, longest zero run compressed.
      const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1)
      const embedded = `${groups.slice(0, 6).join(":")}:${Array.from(address.subarray(12)).join(".")}`
      expect(ipv6Bytes(full)).toEqual(address)
      expect(ipv6Bytes(compressed)).toEqual(address)
      expect(ipv6Bytes(embedded)).toEqual(address)
    }
  )

  it("a failure reply is decided from its first two bytes; a success needs the whole bound address", () => {
    expect(parseSocksReply(Uint8Array.of(5, 5))).toEqual({ _tag: "Done", value: 5, consumed: 2 })
    expect(parseSocksReply(Uint8Array.of(5, 0, 0, 1, 127, 0))._tag).toBe("Incomplete")
    expect(parseSocksReply(Uint8Array.of(5, 0, 0, 3, 2, 104, 105, 0, 25))).toEqual({
      _tag: "Done",
      value: 0,
      consumed: 9
    })
    expect(parseSocksReply(Uint8Array.of(4, 90))._tag).toBe("Invalid")
    expect(parseSocksReply(Uint8Array.of(5, 0, 0, 9, 0))._tag).toBe("Invalid")
  })
})

describe("HTTP CONNECT messages", () => {
  it("the request names the target twice and carries Basic credentials", () => {
    const request = text(httpConnect("mx.test", 587, { user: "me", password: Redacted.make("pw") }))
    expect(request).toBe(
      "CONNECT mx.test:587 HTTP/1.1\r\nHost: mx.test:587\r\nProxy-Authorization: Basic bWU6cHc=\r\n\r\n"
    )
    expect(text(httpConnect("::1", 25, undefined))).toBe("CONNECT [::1]:25 HTTP/1.1\r\nHost: [::1]:25\r\n\r\n")
  })

  it("the head ends at its empty line; a status line that is not HTTP/1.x is refused", () => {
    const head = bytes("HTTP/1.0 200 Connection established\r\nProxy-agent: x\r\n\r\n220 hi\r\n")
    expect(parseHttpHead(head)).toEqual({
      _tag: "Done",
      value: { status: 200, reason: "Connection established" },
      consumed: head.length - 8
    })
    expect(parseHttpHead(bytes("HTTP/1.1 200 OK\r\n"))._tag).toBe("Incomplete")
    expect(parseHttpHead(bytes("SSH-2.0-OpenSSH\r\n\r\n"))._tag).toBe("Invalid")
    expect(parseHttpHead(new Uint8Array(17 * 1024).fill(65))._tag).toBe("Invalid")
  })
})

describe("the handshake over a channel", () => {
  effectProp(
    "socks5 with credentials: however the proxy's bytes are split, the same requests go out and exactly the bytes after its reply are left for SMTP",
    [cuts, fc.constantFrom(1, 3, 4)],
    ([at, atyp]) =>
      Effect.gen(function*() {
        const bound = atyp === 1 ? [1, 10, 0, 0, 1] : atyp === 4 ? [4, ...Array(16).fill(7)] : [3, 3, 97, 98, 99]
        const answers = Bytes.concat([
          Uint8Array.of(5, 2), // method: username/password
          Uint8Array.of(1, 0), // RFC 1929: success
          Uint8Array.of(5, 0, 0, ...bound, 0x04, 0x38), // CONNECT succeeded
          greeting
        ])
        const proxy = memoryChannel(splitAt(answers, at))
        yield* tunnel(proxy.channel, socks("socks5h", { user: "me", password: "pw" }), destination)
        expect(Array.from(proxy.written())).toEqual([
          ...[5, 2, 0, 2],
          ...[1, 2, ...bytes("me"), 2, ...bytes("pw")],
          ...socksConnect("mail.example.com", 587)!
        ])
        expect(text(proxy.rest())).toBe(text(greeting))
      })
  )

  effectProp(
    "http: however the proxy's bytes are split, exactly the bytes after the response head are left for SMTP",
    [cuts],
    ([at]) =>
      Effect.gen(function*() {
        const answers = Bytes.concat([bytes("HTTP/1.1 200 Connection established\r\nVia: 1.1 proxy\r\n\r\n"), greeting])
        const proxy = memoryChannel(splitAt(answers, at))
        yield* tunnel(proxy.channel, { protocol: "http", host: "proxy.test", port: 3128 }, destination)
        expect(text(proxy.written())).toBe(
          "CONNECT mail.example.com:587 HTTP/1.1\r\nHost: mail.example.com:587\r\n\r\n"
        )
        expect(text(proxy.rest())).toBe(text(greeting))
      })
  )

  const failureOf = (protocol: ProxyOptions, answers: Uint8Array) =>
    Effect.flip(tunnel(memoryChannel([answers]).channel, protocol, destination))

  it.effect("SOCKS5 replies: 2 is Refused, 3 to 6 and 1 TargetUnreachable (retryable), 7 and 8 HandshakeFailed", () =>
    Effect.gen(function*() {
      const reasons: Array<[number, string, boolean]> = []
      for (const rep of [1, 2, 3, 4, 5, 6, 7, 8]) {
        const error = yield* failureOf(socks("socks5"), Uint8Array.of(5, 0, 5, rep))
        reasons.push([rep, error.reason, error.retryable])
        expect(error.reply).toBe(rep)
        expect(error.proxy).toBe("proxy.test:1080")
        expect(error.host).toBe("mail.example.com")
      }
      expect(reasons).toEqual([
        [1, "TargetUnreachable", true],
        [2, "Refused", false],
        [3, "TargetUnreachable", true],
        [4, "TargetUnreachable", true],
        [5, "TargetUnreachable", true],
        [6, "TargetUnreachable", true],
        [7, "HandshakeFailed", false],
        [8, "HandshakeFailed", false]
      ])
    }))

  it.effect("SOCKS5 authentication: no acceptable method, a rejected password, a method never offered", () =>
    Effect.gen(function*() {
      const noMethod = yield* failureOf(socks("socks5"), Uint8Array.of(5, 0xff))
      expect(noMethod.reason).toBe("AuthenticationFailed")
      expect(noMethod.message).toContain("requires authentication")
      const rejected = yield* failureOf(socks("socks5", { user: "me", password: "hunter2" }), Uint8Array.of(5, 2, 1, 1))
      expect(rejected.reason).toBe("AuthenticationFailed")
      expect(rejected.retryable).toBe(false)
      expect(rejected.message).not.toContain("hunter2")
      const unoffered = yield* failureOf(socks("socks5"), Uint8Array.of(5, 2))
      expect(unoffered.reason).toBe("HandshakeFailed")
    }))

  it.effect("HTTP statuses: 401 and 407 AuthenticationFailed, 403 Refused, 5xx TargetUnreachable", () =>
    Effect.gen(function*() {
      const http: ProxyOptions = { protocol: "http", host: "proxy.test", port: 3128 }
      const reasonOf = (status: string) =>
        Effect.map(failureOf(http, bytes(`HTTP/1.1 ${status}\r\n\r\n`)), (error) => [error.reason, error.detail])
      expect(yield* reasonOf("407 Proxy Authentication Required")).toEqual([
        "AuthenticationFailed",
        "407 Proxy Authentication Required"
      ])
      expect((yield* reasonOf("401 Unauthorized"))[0]).toBe("AuthenticationFailed")
      expect((yield* reasonOf("403 Filtered"))[0]).toBe("Refused")
      expect((yield* reasonOf("405 Method Not Allowed"))[0]).toBe("Refused")
      expect((yield* reasonOf("500 Unable to connect"))[0]).toBe("TargetUnreachable")
      expect((yield* reasonOf("502 Bad Gateway"))[0]).toBe("TargetUnreachable")
    }))

  it.effect("a proxy that closes mid-handshake, or speaks another protocol, is HandshakeFailed", () =>
    Effect.gen(function*() {
      const closed = yield* failureOf(socks("socks5"), Uint8Array.of(5))
      expect(closed.reason).toBe("HandshakeFailed")
      expect(closed.message).toContain("closed the connection")
      const http = yield* failureOf(socks("socks5"), bytes("HTTP/1.1 400 Bad Request\r\n\r\n"))
      expect(http.reason).toBe("HandshakeFailed")
      expect(http.message).toContain("not a SOCKS5 proxy")
    }))
})
