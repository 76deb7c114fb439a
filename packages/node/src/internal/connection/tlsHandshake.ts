/**
 * The TLS handshake over a connected socket: Node's options from ours, and
 * the wait for `secureConnect` (or the failure that ends it).
 */
import type { TlsError } from "@effect-smtp/client/SmtpError"
import type { TlsOptions } from "@effect-smtp/client/Socket"
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import * as Tls from "node:tls"
import type { Endpoint } from "./endpoint.js"
import { tlsErrorFrom } from "./tlsError.js"

/** Node wants Buffers; a Buffer view of the same memory avoids a copy. */
const toNodeCa = (ca: NonNullable<TlsOptions["ca"]>): Array<string | Buffer> => {
  const list = typeof ca === "string" || ca instanceof Uint8Array ? [ca] : ca
  return list.map((entry) =>
    typeof entry === "string" ? entry : Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength)
  )
}

const tlsConnectOptions = (socket: Net.Socket, target: Endpoint, options: TlsOptions): Tls.ConnectionOptions => {
  const name = options.servername ?? target.host
  return {
    socket,
    // Node verifies the certificate against `host` when given a socket. SNI
    // must not carry an IP literal (RFC 6066), but the IP is still checked.
    host: name,
    ...(Net.isIP(name) === 0 ? { servername: name } : {}),
    ...(options.ca !== undefined ? { ca: toNodeCa(options.ca) } : {}),
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    minVersion: options.minVersion ?? "TLSv1.2"
  }
}

/**
 * The connection a handshake runs on: its plaintext socket, and what the
 * handshake tells it.
 *
 * @internal
 */
export interface HandshakeHost {
  /** The TCP socket (or the tunnel through a proxy) TLS wraps. */
  readonly raw: () => Net.Socket | undefined
  readonly target: () => Endpoint
  /** The TLS socket exists: reads and writes go through it from now on. */
  readonly adopt: (socket: Tls.TLSSocket) => void
  /** The handshake finished. */
  readonly secured: () => void
  /** Destroys every socket of the connection. */
  readonly destroy: () => void
  /** The first error recorded on the connection, if any. */
  readonly failure: () => Error | undefined
}

/**
 * Wraps the host's socket in TLS and waits for the handshake. `precheck` runs
 * in the same synchronous step as the wrap, so no byte can slip in between
 * the check and the moment TLS owns the socket.
 *
 * @internal
 */
export const tlsHandshake = <E>(
  host: HandshakeHost,
  options: TlsOptions,
  precheck: () => E | undefined
): Effect.Effect<void, TlsError | E> =>
  Effect.callback<void, TlsError | E>((resume) => {
    const raw = host.raw()
    const early = precheck()
    if (early !== undefined) {
      resume(Effect.fail(early))
      return
    }
    if (raw === undefined) {
      resume(Effect.die(new Error("NodeConnection: TLS before TCP connect")))
      return
    }
    let socket: Tls.TLSSocket
    try {
      socket = Tls.connect(tlsConnectOptions(raw, host.target(), options))
    } catch (error) {
      // Options Node refuses up front, e.g. a CA that is not valid PEM.
      host.destroy()
      resume(Effect.fail(tlsErrorFrom(host.target(), error)))
      return
    }
    host.adopt(socket)
    const cleanup = () => {
      socket.off("secureConnect", onSecure)
      socket.off("error", onError)
      socket.off("close", onClose)
    }
    const onSecure = () => {
      cleanup()
      host.secured()
      resume(Effect.void)
    }
    const onError = (error: Error) => {
      cleanup()
      host.destroy()
      resume(Effect.fail(tlsErrorFrom(host.target(), error)))
    }
    // Node reports a close during the handshake as an error first; this is a
    // fallback so the wait can never outlive the socket.
    const onClose = () => onError(host.failure() ?? new Error("socket closed during the TLS handshake"))
    socket.on("secureConnect", onSecure)
    socket.on("error", onError)
    socket.on("close", onClose)
    return Effect.sync(() => {
      cleanup()
      host.destroy()
    })
  })
