/**
 * One TCP connection of the misbehaving server as the engine's link to the
 * client, with a real TLS upgrade.
 */
import * as Effect from "effect/Effect"
import type * as Net from "node:net"
import * as Tls from "node:tls"
import type { ClientLink } from "../engine/link.js"
import { BodyDecoder, ByteReader } from "../reader.js"

/**
 * One TCP connection as the engine's link to the client.
 *
 * A class because the socket's listeners and the pulled reads share the
 * chunks and the waiter, and STARTTLS swaps the socket underneath them.
 *
 * @internal
 */
export class TcpLink implements ClientLink {
  private readonly chunks: Array<Uint8Array> = []
  private ended = false
  private waiter: (() => void) | undefined = undefined
  private readonly reader: ByteReader
  socket: Net.Socket
  readonly canStartTls: boolean

  constructor(readonly raw: Net.Socket, private readonly context: Tls.SecureContext | undefined, implicit: boolean) {
    this.socket = raw
    this.canStartTls = context !== undefined && !implicit
    this.attach(raw)
    this.reader = new ByteReader(this.next)
  }

  private readonly onData = (chunk: Buffer): void => {
    this.chunks.push(chunk)
    this.wake()
  }

  private readonly onEnd = (): void => {
    this.ended = true
    this.wake()
  }

  private wake(): void {
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.()
  }

  private attach(socket: Net.Socket): void {
    socket.on("data", this.onData)
    socket.on("end", this.onEnd)
    socket.on("close", this.onEnd)
  }

  private detach(socket: Net.Socket): void {
    socket.off("data", this.onData)
    socket.off("end", this.onEnd)
    socket.off("close", this.onEnd)
  }

  /** The next chunk received, `undefined` once the client closed. */
  private readonly next: Effect.Effect<Uint8Array | undefined> = Effect.suspend(() => {
    const chunk = this.chunks.shift()
    if (chunk !== undefined) return Effect.succeed(chunk)
    if (this.ended) return Effect.succeed(undefined)
    return Effect.flatMap(
      Effect.callback<void>((resume) => {
        this.waiter = () => resume(Effect.void)
        return Effect.sync(() => {
          this.waiter = undefined
        })
      }),
      () => this.next
    )
  })

  readLine = (maxBytes: number) => this.reader.readLine({ maxBytes, bareLf: true })

  readBytes = (n: number) => this.reader.readBytes(n)

  readData = (keep: number) =>
    Effect.suspend(() => {
      const body = new BodyDecoder(keep)
      return Effect.map(this.reader.readData(body), (ended) => (ended ? body.decoded : undefined))
    })

  readonly hasPending = Effect.sync(() => this.reader.buffered > 0 || this.chunks.length > 0)

  readonly isTls = Effect.sync(() => this.socket !== this.raw)

  /** Writes and waits until the bytes are handed to the OS; false when the socket is gone. */
  write = (data: string | Uint8Array): Effect.Effect<boolean> =>
    Effect.callback<boolean>((resume) => {
      const socket = this.socket
      if (socket.destroyed || !socket.writable) return resume(Effect.succeed(false))
      socket.write(data, (error) => resume(Effect.succeed(error === undefined || error === null)))
    })

  /**
   * Writes `reply` (if any) and starts TLS in one synchronous step, so no byte
   * of the client's handshake can reach the plaintext reader in between.
   * Plaintext the client pipelined after STARTTLS is discarded (what Postfix
   * does since CVE-2011-0411). False when the handshake failed.
   */
  startTls = (reply: string | undefined): Effect.Effect<boolean> =>
    Effect.callback<boolean>((resume) => {
      const raw = this.raw
      const context = this.context
      if (context === undefined || raw.destroyed || !raw.writable) return resume(Effect.succeed(false))
      if (reply !== undefined) raw.write(reply)
      this.detach(raw)
      this.chunks.length = 0
      this.reader.discard()
      const socket = new Tls.TLSSocket(raw, { isServer: true, secureContext: context })
      // A client that refuses the certificate aborts the handshake: that is a
      // test outcome, not a crash of the server.
      socket.on("error", () => {})
      this.socket = socket
      this.attach(socket)
      const onSecure = () => {
        socket.off("close", onClose)
        resume(Effect.succeed(true))
      }
      const onClose = () => {
        socket.off("secure", onSecure)
        resume(Effect.succeed(false))
      }
      socket.once("secure", onSecure)
      socket.once("close", onClose)
    })

  /** A graceful close: FIN (after TLS close_notify), the rest when the client closes too. */
  readonly end: Effect.Effect<void> = Effect.sync(() => {
    this.socket.end()
  })

  readonly reset: Effect.Effect<void> = Effect.sync(() => {
    if (!this.raw.destroyed) this.raw.resetAndDestroy()
  })
}
