/**
 * The tunnel through a proxy: the SOCKS5 or HTTP CONNECT handshake over a
 * connected channel, which leaves every byte after the proxy's answer (an SMTP
 * greeting that arrived in the same segment) to the SMTP reader.
 *
 * Written here rather than taken from the `socks` package: the handshake is
 * four small messages, and it must read through the connection's own pulled
 * reads (so no byte is lost or read twice, and interruption and timeouts run
 * on Effect's fibers and Clock) rather than through listeners and wall-clock
 * timers of its own.
 */
import { ProxyError, type SocketError, type TimeoutError } from "@effect-smtp/client/SmtpError"
import * as Bytes from "effect/Bytes"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as NodeSocket from "../../NodeSocket.js"
import { httpConnect, parseHttpHead } from "./httpConnect.js"
import type { Parsed } from "./parsed.js"
import {
  describeSocksReply,
  parseSocksAuthStatus,
  parseSocksMethod,
  parseSocksReply,
  socksConnect,
  socksCredentials,
  socksGreeting,
  socksMethod
} from "./socks5.js"

type ProxyOptions = NodeSocket.ProxyOptions

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

/**
 * One handshake's conversation with the proxy: a write, a read of one whole
 * answer, and the failures, all named for this proxy and this SMTP server.
 */
interface Exchange {
  readonly proxy: ProxyOptions
  readonly destination: Destination
  readonly failure: ReturnType<typeof proxyFailure>
  readonly send: (data: Uint8Array) => Effect.Effect<void, ProxyError>
  readonly receive: <A>(parse: (bytes: Uint8Array) => Parsed<A>) => Effect.Effect<A, ProxyError>
}

const exchange = (channel: Channel, proxy: ProxyOptions, destination: Destination): Exchange => {
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
        buffered = buffered.length === 0 ? chunk : Bytes.concat([buffered, chunk])
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

  return { proxy, destination, failure, send, receive }
}

/** RFC 1928's method negotiation and, when chosen, RFC 1929's username and password. */
const socks5Authenticate = ({ failure, proxy, receive, send }: Exchange): Effect.Effect<void, ProxyError> =>
  Effect.gen(function*() {
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
  })

const socks5 = (conversation: Exchange): Effect.Effect<void, ProxyError> =>
  Effect.gen(function*() {
    const { destination, failure, proxy, receive, send } = conversation
    yield* socks5Authenticate(conversation)
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

const http = ({ destination, failure, proxy, receive, send }: Exchange): Effect.Effect<void, ProxyError> =>
  Effect.gen(function*() {
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

/**
 * Opens the tunnel to `destination` through `proxy` over `channel`, or fails
 * with what the proxy answered.
 *
 * @internal
 */
export const tunnel = (
  channel: Channel,
  proxy: ProxyOptions,
  destination: Destination
): Effect.Effect<void, ProxyError> => {
  const conversation = exchange(channel, proxy, destination)
  return proxy.protocol === "http" ? http(conversation) : socks5(conversation)
}
