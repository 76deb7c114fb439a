/**
 * One TCP connection, plain or TLS, behind an effect-smtp `Connection`: the
 * connect, the implicit-TLS and STARTTLS handshakes, pulled reads with
 * backpressure, writes that wait only when Node's buffer is full, and closing.
 *
 * Node reports failures as 'error' events, possibly between two of our phases
 * (after the connect, before the reader is attached, ...). Every socket
 * therefore gets `recordError` as its first listener, never removed: it keeps
 * the first error for whichever phase looks next, and an 'error' event can
 * never be unhandled (which would crash the process).
 */
import { SmtpProtocolError, SocketError, TimeoutError, TlsError } from "@effect-smtp/client/SmtpError"
import type { ChannelBinding, Connection, PeerVerification, TlsOptions, WriteTimeout } from "@effect-smtp/client/Socket"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Net from "node:net"
import * as Tls from "node:tls"

/** @internal */
export interface Target {
  /** The host name the user configured. */
  readonly host: string
  readonly port: number
  /** The IP this connection uses: the peer of the TCP connection. */
  readonly address: string
  readonly family: 4 | 6
  /**
   * The proxy the connection goes through, once its tunnel is open: `address`
   * is then the proxy's IP, and `host` and `port` the SMTP server's.
   */
  readonly proxy?: { readonly host: string; readonly port: number } | undefined
}

const proxyOf = (target: Target): string | undefined =>
  target.proxy === undefined ? undefined : `${target.proxy.host}:${target.proxy.port}`

/** @internal */
export const codeOf = (error: unknown): string | undefined =>
  Predicate.hasProperty(error, "code") && typeof error.code === "string" ? error.code : undefined

/**
 * OpenSSL's certificate verification results (as Node reports them in
 * `err.code`) and Node's own name check: the certificate was seen and refused,
 * which a person fixes differently from a handshake that failed.
 */
const certificateCodes: ReadonlySet<string> = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  // OpenSSL 3 refuses weak certificates during the handshake, with SSL codes.
  "ERR_SSL_EE_KEY_TOO_SMALL",
  "ERR_SSL_CA_KEY_TOO_SMALL",
  "ERR_SSL_CA_MD_TOO_WEAK"
])

/**
 * The server sent a fatal internal-error alert (TLS alert 80): it failed on
 * its own side during the handshake, e.g. could not sign with its key. The
 * port speaks TLS, so "check the security mode" would send a person the
 * wrong way.
 */
const serverInternalErrorCode = "ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR"

const tlsFailureOf = (code: string | undefined): TlsError["reason"] =>
  code === undefined
    ? "HandshakeFailed"
    : certificateCodes.has(code)
    ? "CertificateRejected"
    : code === serverInternalErrorCode
    ? "ServerInternalError"
    : "HandshakeFailed"

/** @internal */
export const tlsErrorFrom = (target: Target, error: unknown): TlsError => {
  const code = codeOf(error)
  return new TlsError({
    reason: tlsFailureOf(code),
    host: target.host,
    port: target.port,
    code,
    cause: error
  })
}

/** Node wants Buffers; a Buffer view of the same memory avoids a copy. */
const toNodeCa = (ca: NonNullable<TlsOptions["ca"]>): Array<string | Buffer> => {
  const list = typeof ca === "string" || ca instanceof Uint8Array ? [ca] : ca
  return list.map((entry) =>
    typeof entry === "string" ? entry : Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength)
  )
}

const tlsConnectOptions = (socket: Net.Socket, target: Target, options: TlsOptions): Tls.ConnectionOptions => {
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
 * Bounds the wait for the peer's side of a graceful close. Wall-clock on
 * purpose: it is a safety valve against a peer that never closes, not a
 * user-visible timeout, and it must not hang a test that runs on TestClock.
 */
const closeGraceMillis = 1_000

/** @internal */
export class NodeConnection {
  private raw: Net.Socket | undefined = undefined
  /** The socket reads and writes go through: `raw`, or the TLS socket over it. */
  private current: Net.Socket | undefined = undefined
  private tlsActive = false
  private failure: Error | undefined = undefined
  /** The peer ended or the socket closed: no more chunks will be queued. */
  private ended = false
  /** `close` was called: reads fail even if the peer still sends. */
  private closing = false
  private readonly queue: Array<Uint8Array> = []
  private reader: ((effect: Effect.Effect<Uint8Array, SocketError>) => void) | undefined = undefined
  /** Our listeners are on `current` (from `beginReading` or `open` on). */
  private reading = false

  constructor(private endpoint: Target) {}

  /** Where this connection leads, as errors, TLS and the `Connection` name it. */
  get target(): Target {
    return this.endpoint
  }

  /**
   * The proxy's tunnel is open: from now on the connection leads to the SMTP
   * server at `host`:`port` (the name TLS verifies), through the proxy it is
   * connected to.
   */
  tunnelled(host: string, port: number): void {
    const proxy = this.endpoint
    this.endpoint = {
      host,
      port,
      address: proxy.address,
      family: proxy.family,
      proxy: { host: proxy.host, port: proxy.port }
    }
  }

  /** Starts reading before `open`, for a handshake (a proxy's) that precedes SMTP. */
  beginReading(): void {
    if (!this.reading && this.current !== undefined) {
      this.attach(this.current)
      this.reading = true
    }
  }

  /** The byte stream for a handshake before SMTP; `unread` gives bytes back to the next read. */
  readonly channel = {
    read: Effect.suspend(() => this.read),
    write: (data: Uint8Array) => this.write(data),
    unread: (data: Uint8Array): void => {
      this.queue.unshift(data)
    }
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
    return Effect.callback<void, SocketError>((resume) => {
      const { address, family, host, port } = this.target
      // No Nagle: the protocol layer batches its own pipelined commands, and
      // Nagle's wait for an ACK stalls the write-write-read pattern of SMTP.
      const socket = Net.connect({ host: address, port, family, noDelay: true })
      socket.on("error", this.recordError)
      this.raw = socket
      this.current = socket
      const cleanup = () => {
        socket.off("connect", onConnect)
        socket.off("error", onError)
      }
      const onConnect = () => {
        cleanup()
        resume(Effect.void)
      }
      const onError = (error: Error) => {
        cleanup()
        socket.destroy()
        const code = codeOf(error)
        resume(Effect.fail(new SocketError({ operation: "connect", host, port, address, code, cause: error })))
      }
      socket.on("connect", onConnect)
      socket.on("error", onError)
      return Effect.sync(() => {
        cleanup()
        socket.destroy()
      })
    })
  }

  /**
   * Implicit TLS on the fresh TCP socket (or the fresh tunnel through a
   * proxy), before anything was read from it. A server that spoke first sent
   * plaintext: it does not speak implicit TLS on this port.
   */
  startTls(options: TlsOptions): Effect.Effect<void, TlsError> {
    return this.handshake<TlsError>(options, () => {
      if (!this.reading || this.current === undefined) return undefined
      const buffered = this.bufferedBytes()
      if (buffered > 0) {
        this.destroy()
        return tlsErrorFrom(
          this.endpoint,
          new Error(`the server sent ${buffered} plaintext byte(s) before the TLS handshake`)
        )
      }
      this.detach(this.current)
      this.reading = false
      return undefined
    })
  }

  /**
   * Wraps `raw` in TLS and waits for the handshake. `precheck` runs in the same
   * synchronous step as the wrap, so no byte can slip in between the check and
   * the moment TLS owns the socket.
   */
  private handshake<E>(
    options: TlsOptions,
    precheck: () => E | undefined
  ): Effect.Effect<void, TlsError | E> {
    return Effect.callback<void, TlsError | E>((resume) => {
      const raw = this.raw
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
        socket = Tls.connect(tlsConnectOptions(raw, this.target, options))
      } catch (error) {
        // Options Node refuses up front, e.g. a CA that is not valid PEM.
        this.destroy()
        resume(Effect.fail(tlsErrorFrom(this.target, error)))
        return
      }
      socket.on("error", this.recordError)
      this.current = socket
      const cleanup = () => {
        socket.off("secureConnect", onSecure)
        socket.off("error", onError)
        socket.off("close", onClose)
      }
      const onSecure = () => {
        cleanup()
        this.tlsActive = true
        resume(Effect.void)
      }
      const onError = (error: Error) => {
        cleanup()
        this.destroy()
        resume(Effect.fail(tlsErrorFrom(this.target, error)))
      }
      // Node reports a close during the handshake as an error first; this is a
      // fallback so the wait can never outlive the socket.
      const onClose = () => onError(this.failure ?? new Error("socket closed during the TLS handshake"))
      socket.on("secureConnect", onSecure)
      socket.on("error", onError)
      socket.on("close", onClose)
      return Effect.sync(() => {
        cleanup()
        this.destroy()
      })
    })
  }

  private readonly onData = (chunk: Buffer): void => {
    const reader = this.reader
    if (reader !== undefined) {
      this.reader = undefined
      reader(Effect.succeed(chunk))
      return
    }
    // Nobody is reading: keep the chunk and stop the flow, so the peer is held
    // back by TCP instead of filling our memory.
    this.queue.push(chunk)
    this.current?.pause()
  }

  /** 'end', 'close' or 'error' on the current socket: no more data will come. */
  private readonly onStop = (): void => {
    this.ended = true
    this.wake()
  }

  private wake(): void {
    const reader = this.reader
    if (reader !== undefined) {
      this.reader = undefined
      reader(Effect.fail(this.failureFor("read")))
    }
  }

  private attach(socket: Net.Socket): void {
    socket.on("data", this.onData)
    socket.on("end", this.onStop)
    socket.on("close", this.onStop)
    socket.on("error", this.onStop)
  }

  private detach(socket: Net.Socket): void {
    socket.off("data", this.onData)
    socket.off("end", this.onStop)
    socket.off("close", this.onStop)
    socket.off("error", this.onStop)
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

  private bufferedBytes(): number {
    let total = this.current?.readableLength ?? 0
    for (const chunk of this.queue) {
      total += chunk.byteLength
    }
    return total
  }

  private readonly read: Effect.Effect<Uint8Array, SocketError> = Effect.suspend(() => {
    const chunk = this.queue.shift()
    if (chunk !== undefined) {
      if (this.queue.length === 0 && !this.ended && !this.closing) {
        this.current?.resume()
      }
      return Effect.succeed(chunk)
    }
    if (this.ended || this.closing || this.failure !== undefined || this.current?.destroyed !== false) {
      return Effect.fail(this.failureFor("read"))
    }
    return Effect.callback<Uint8Array, SocketError>((resume) => {
      this.reader = resume
      return Effect.sync(() => {
        if (this.reader === resume) {
          this.reader = undefined
        }
      })
    })
  })

  private readonly awaitRead = (resume: (result: Effect.Effect<Uint8Array, SocketError>) => void): () => void => {
    const chunk = this.poll()
    if (chunk !== undefined) {
      resume(Effect.succeed(chunk))
      return () => {}
    }
    if (this.ended || this.closing || this.failure !== undefined || this.current?.destroyed !== false) {
      resume(Effect.fail(this.failureFor("read")))
      return () => {}
    }
    this.reader = resume
    return () => {
      if (this.reader === resume) this.reader = undefined
    }
  }

  private readonly poll = (): Uint8Array | undefined => {
    const chunk = this.queue.shift()
    if (chunk !== undefined && this.queue.length === 0 && !this.ended && !this.closing) {
      this.current?.resume()
    }
    return chunk
  }

  private readonly write = (
    data: Uint8Array,
    timeout?: WriteTimeout | undefined
  ): Effect.Effect<void, SocketError | TimeoutError> =>
    Effect.suspend(() => {
      const socket = this.current
      if (socket === undefined || socket.destroyed || !socket.writable || this.closing) {
        return Effect.fail(this.failureFor("write"))
      }
      // The fast path: pipelined small commands fit in Node's buffer and
      // need no wait (and no callback allocation) at all. Node queues `data`
      // itself, not a copy, until it is flushed.
      if (socket.write(data)) {
        return Effect.void
      }
      const drained = Effect.callback<void, SocketError>((resume) => {
        const cleanup = () => {
          socket.off("drain", onDrain)
          socket.off("error", onFailure)
          socket.off("close", onFailure)
        }
        const onDrain = () => {
          cleanup()
          resume(Effect.void)
        }
        const onFailure = () => {
          cleanup()
          resume(Effect.fail(this.failureFor("write")))
        }
        socket.on("drain", onDrain)
        socket.on("error", onFailure)
        socket.on("close", onFailure)
        return Effect.sync(cleanup)
      })
      // Only a write that has to wait pays for a timer.
      return timeout === undefined ? drained : Effect.timeoutOrElse(drained, {
        duration: timeout.duration,
        orElse: () => Effect.fail(new TimeoutError({ operation: timeout.operation, timeout: timeout.duration }))
      })
    })

  /**
   * Lets the event loop poll for I/O once, so bytes the kernel already holds
   * reach the queue before the injection check. Two turns of the check phase,
   * because an immediate queued during the poll phase runs before the next
   * poll. This only sharpens the error: bytes arriving later are fed to TLS,
   * which rejects them as a broken handshake, so they can never be taken as
   * post-TLS replies either way.
   */
  private readonly settle: Effect.Effect<void> = Effect.callback<void>((resume) => {
    let handle = setImmediate(() => {
      handle = setImmediate(() => resume(Effect.void))
    })
    return Effect.sync(() => clearImmediate(handle))
  })

  private readonly upgradeTls = (
    options: TlsOptions
  ): Effect.Effect<void, TlsError | SocketError | SmtpProtocolError> =>
    Effect.suspend(() => {
      if (this.tlsActive) {
        return Effect.die(new Error("upgradeTls: the connection already uses TLS"))
      }
      return Effect.andThen(
        this.settle,
        this.handshake<SocketError | SmtpProtocolError>(options, () => {
          const buffered = this.bufferedBytes()
          if (buffered > 0) {
            this.destroy()
            return new SmtpProtocolError({
              reason: "StartTlsInjection",
              detail: `${buffered} unread plaintext byte(s) were buffered when TLS was to start.`
            })
          }
          const socket = this.current
          if (this.ended || this.closing || this.failure !== undefined || socket === undefined || socket.destroyed) {
            return this.failureFor("read")
          }
          // TLS takes over the socket; our plaintext listeners must not see
          // (or pause) what flows underneath it.
          this.detach(socket)
          return undefined
        }).pipe(Effect.tap(() =>
          Effect.sync(() => {
            if (this.current !== undefined) {
              this.attach(this.current)
            }
          })
        ))
      )
    })

  private readonly close: Effect.Effect<void> = Effect.suspend(() => {
    const socket = this.current
    this.closing = true
    this.wake()
    if (socket === undefined || socket.destroyed) {
      this.destroy()
      return Effect.void
    }
    return Effect.callback<void>((resume) => {
      // Unread data would keep the stream paused and its 'end' (so the
      // 'close' we wait for) from ever coming: drop it, we are closing.
      this.queue.length = 0
      socket.off("data", this.onData)
      socket.resume()
      const finish = () => {
        clearTimeout(timer)
        socket.off("close", finish)
        this.destroy()
        resume(Effect.void)
      }
      const timer = setTimeout(finish, closeGraceMillis)
      socket.on("close", finish)
      socket.end()
      return Effect.sync(() => {
        clearTimeout(timer)
        socket.off("close", finish)
        this.destroy()
      })
    })
  })

  /**
   * RFC 9266's tls-exporter binding, under TLS 1.3 only: for TLS 1.2 it is
   * safe only with the extended master secret, which Node does not report,
   * and tls-server-end-point would need the certificate's signature hash,
   * which Node does not expose. Without one, SCRAM runs without -PLUS.
   */
  private readonly channelBinding: Effect.Effect<ChannelBinding | undefined> = Effect.sync(() => {
    const socket = this.current
    if (!this.tlsActive || !(socket instanceof Tls.TLSSocket) || socket.getProtocol() !== "TLSv1.3") {
      return undefined
    }
    // TLS 1.3 does not tell an empty context from none (RFC 8446 §7.5).
    const data = socket.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0))
    return { type: "tls-exporter", data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }
  })

  /**
   * Node's own verdict on the peer: `authorized` is false, with the reason in
   * `authorizationError`, when the chain or the name did not verify and
   * `rejectUnauthorized: false` let the handshake finish anyway.
   */
  private readonly peerVerification: Effect.Effect<PeerVerification | undefined> = Effect.sync(() => {
    const socket = this.current
    if (!this.tlsActive || !(socket instanceof Tls.TLSSocket)) return undefined
    if (socket.authorized) return { verified: true }
    const error: unknown = socket.authorizationError
    return {
      verified: false,
      reason: error instanceof Error
        ? (error as Error & { code?: string }).code ?? error.message
        : typeof error === "string"
        ? error
        : "the certificate was not verified"
    }
  })

  /** Starts reading and hands out the `Connection`. */
  open(): Connection {
    this.beginReading()
    const { address, host, port, proxy } = this.endpoint
    return {
      host,
      port,
      remoteAddress: address,
      remotePort: proxy?.port ?? port,
      isTls: Effect.sync(() => this.tlsActive),
      read: this.read,
      poll: this.poll,
      awaitRead: this.awaitRead,
      write: this.write,
      upgradeTls: this.upgradeTls,
      close: this.close,
      channelBinding: this.channelBinding,
      peerVerification: this.peerVerification
    }
  }
}
