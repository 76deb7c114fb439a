/**
 * One TCP connection, plain or TLS, behind an effect-smtp `Connection`: the
 * sockets and their state, the STARTTLS upgrade and closing. The connect, the
 * handshake, reads and writes each have a file of their own beside this one.
 *
 * Node reports failures as 'error' events, possibly between two of our phases
 * (after the connect, before the reader is attached, ...). Every socket
 * therefore gets `recordError` as its first listener, never removed: it keeps
 * the first error for whichever phase looks next, and an 'error' event can
 * never be unhandled (which would crash the process).
 */
import { SmtpProtocolError, SocketError, type TlsError } from "@effect-smtp/client/SmtpError"
import type { Connection, TlsOptions, WriteTimeout } from "@effect-smtp/client/Socket"
import * as Effect from "effect/Effect"
import type * as Net from "node:net"
import * as Tls from "node:tls"
import { type Endpoint, proxyOf, throughProxy } from "./endpoint.js"
import { Inbound } from "./inbound.js"
import { socketClose, socketWrite } from "./outbound.js"
import { tcpConnect } from "./tcpConnect.js"
import { codeOf, tlsErrorFrom } from "./tlsError.js"
import { type HandshakeHost, tlsHandshake } from "./tlsHandshake.js"
import { channelBindingOf, peerVerificationOf } from "./tlsSession.js"

/**
 * Lets the event loop poll for I/O once, so bytes the kernel already holds
 * reach the queue before the injection check. Two turns of the check phase,
 * because an immediate queued during the poll phase runs before the next
 * poll. This only sharpens the error: bytes arriving later are fed to TLS,
 * which rejects them as a broken handshake, so they can never be taken as
 * post-TLS replies either way.
 */
const settle: Effect.Effect<void> = Effect.callback<void>((resume) => {
  let handle = setImmediate(() => {
    handle = setImmediate(() => resume(Effect.void))
  })
  return Effect.sync(() => clearImmediate(handle))
})

/**
 * A class because Node's sockets are driven by listeners: the state they
 * share (the sockets, the first error, closing) lives in one place, and each
 * phase is a short method or a function of its own file.
 *
 * @internal
 */
export class NodeConnection {
  private raw: Net.Socket | undefined = undefined
  /** The socket reads and writes go through: `raw`, or the TLS socket over it. */
  private current: Net.Socket | undefined = undefined
  private tlsActive = false
  private failure: Error | undefined = undefined
  /** `close` was called: reads fail even if the peer still sends. */
  private closing = false
  /** Our listeners are on `current` (from `beginReading` or `open` on). */
  private reading = false
  private readonly inbound = new Inbound({
    socket: () => this.current,
    closing: () => this.closing,
    broken: () => this.failure !== undefined || this.current?.destroyed !== false,
    failure: () => this.failureFor("read")
  })
  private readonly tls: HandshakeHost = {
    raw: () => this.raw,
    target: () => this.endpoint,
    adopt: (socket) => {
      socket.on("error", this.recordError)
      this.current = socket
    },
    secured: () => {
      this.tlsActive = true
    },
    destroy: () => this.destroy(),
    failure: () => this.failure
  }

  constructor(private endpoint: Endpoint) {}

  /** Where this connection leads, as errors, TLS and the `Connection` name it. */
  get target(): Endpoint {
    return this.endpoint
  }

  /** The proxy's tunnel is open: from now on the connection leads to the SMTP server. */
  tunnelled(host: string, port: number): void {
    this.endpoint = throughProxy(this.endpoint, host, port)
  }

  /** Starts reading before `open`, for a handshake (a proxy's) that precedes SMTP. */
  beginReading(): void {
    if (!this.reading && this.current !== undefined) {
      this.inbound.attach(this.current)
      this.reading = true
    }
  }

  /** The byte stream for a handshake before SMTP; `unread` gives bytes back to the next read. */
  readonly channel = {
    read: Effect.suspend(() => this.inbound.read),
    write: (data: Uint8Array) => this.write(data),
    unread: (data: Uint8Array): void => this.inbound.unread(data)
  }

  private readonly recordError = (error: Error): void => {
    if (this.failure === undefined) {
      this.failure = error
    }
  }

  /** Destroys every socket of this connection; safe to call any number of times. */
  destroy(): void {
    this.current?.destroy()
    this.raw?.destroy()
  }

  /** The TCP connect. Interruption destroys the socket. */
  connectTcp(): Effect.Effect<void, SocketError> {
    return tcpConnect(this.endpoint, (socket) => {
      socket.on("error", this.recordError)
      this.raw = socket
      this.current = socket
    })
  }

  /**
   * Implicit TLS on the fresh TCP socket (or the fresh tunnel through a
   * proxy), before anything was read from it. A server that spoke first sent
   * plaintext: it does not speak implicit TLS on this port.
   */
  startTls(options: TlsOptions): Effect.Effect<void, TlsError> {
    return tlsHandshake<TlsError>(this.tls, options, () => {
      if (!this.reading || this.current === undefined) return undefined
      const buffered = this.inbound.buffered()
      if (buffered > 0) {
        this.destroy()
        return tlsErrorFrom(
          this.endpoint,
          new Error(`the server sent ${buffered} plaintext byte(s) before the TLS handshake`)
        )
      }
      this.inbound.detach(this.current)
      this.reading = false
      return undefined
    })
  }

  private failureFor(operation: "read" | "write"): SocketError {
    const { address, host, port } = this.endpoint
    const proxy = proxyOf(this.endpoint)
    const error = this.failure
    const code = codeOf(error)
    return error !== undefined && code !== undefined && !this.closing
      ? new SocketError({ operation, host, port, address, proxy, code, cause: error })
      : new SocketError({ operation: "closed", host, port, address, proxy, cause: error })
  }

  private readonly write = (data: Uint8Array, timeout?: WriteTimeout | undefined) =>
    Effect.suspend(() => {
      const socket = this.current
      if (socket === undefined || socket.destroyed || !socket.writable || this.closing) {
        return Effect.fail(this.failureFor("write"))
      }
      return socketWrite(socket, data, timeout, () => this.failureFor("write"))
    })

  /** STARTTLS: refused when plaintext bytes are waiting, which an attacker could have injected. */
  private readonly upgradeTls = (
    options: TlsOptions
  ): Effect.Effect<void, TlsError | SocketError | SmtpProtocolError> =>
    Effect.suspend(() => {
      if (this.tlsActive) {
        return Effect.die(new Error("upgradeTls: the connection already uses TLS"))
      }
      const handshake = tlsHandshake<SocketError | SmtpProtocolError>(this.tls, options, () => {
        const buffered = this.inbound.buffered()
        if (buffered > 0) {
          this.destroy()
          return new SmtpProtocolError({
            reason: "StartTlsInjection",
            detail: `${buffered} unread plaintext byte(s) were buffered when TLS was to start.`
          })
        }
        const socket = this.current
        if (this.inbound.stopped || socket === undefined) {
          return this.failureFor("read")
        }
        // TLS takes over the socket; our plaintext listeners must not see
        // (or pause) what flows underneath it.
        this.inbound.detach(socket)
        return undefined
      })
      return Effect.andThen(
        settle,
        Effect.tap(handshake, () =>
          Effect.sync(() => {
            if (this.current !== undefined) {
              this.inbound.attach(this.current)
            }
          }))
      )
    })

  private readonly close: Effect.Effect<void> = Effect.suspend(() => {
    const socket = this.current
    this.closing = true
    this.inbound.wake()
    if (socket === undefined || socket.destroyed) {
      this.destroy()
      return Effect.void
    }
    // We are closing: what is unread is dropped, so the 'close' we wait for can come.
    return socketClose(socket, () => this.inbound.drain(socket), () => this.destroy())
  })

  /** The TLS socket, once the handshake finished. */
  private secureSocket(): Tls.TLSSocket | undefined {
    const socket = this.current
    return this.tlsActive && socket instanceof Tls.TLSSocket ? socket : undefined
  }

  /** Starts reading and hands out the `Connection`. */
  open(): Connection {
    this.beginReading()
    const { address, host, port, proxy } = this.endpoint
    const inbound = this.inbound
    return {
      host,
      port,
      remoteAddress: address,
      remotePort: proxy?.port ?? port,
      isTls: Effect.sync(() => this.tlsActive),
      read: inbound.read,
      poll: inbound.poll,
      awaitRead: inbound.awaitRead,
      write: this.write,
      upgradeTls: this.upgradeTls,
      close: this.close,
      channelBinding: Effect.sync(() => {
        const socket = this.secureSocket()
        return socket === undefined ? undefined : channelBindingOf(socket)
      }),
      peerVerification: Effect.sync(() => {
        const socket = this.secureSocket()
        return socket === undefined ? undefined : peerVerificationOf(socket)
      })
    }
  }
}
