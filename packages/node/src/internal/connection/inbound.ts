/**
 * Pulled reads with backpressure: chunks wait in a queue while nobody reads,
 * and the socket is paused until the queue is drained, so a fast peer is held
 * back by TCP instead of filling our memory.
 */
import type { SocketError } from "@effect-smtp/client/SmtpError"
import * as Effect from "effect/Effect"
import type * as Net from "node:net"

/**
 * The connection the reads come from.
 *
 * @internal
 */
export interface InboundHost {
  /** The socket reads go through now: the TCP socket, or TLS over it. */
  readonly socket: () => Net.Socket | undefined
  /** `close` was called: reads fail even if the peer still sends. */
  readonly closing: () => boolean
  /** An error was recorded, or the socket is gone. */
  readonly broken: () => boolean
  /** The error a read that cannot be served fails with. */
  readonly failure: () => SocketError
}

/**
 * A class because Node's 'data' listener and the waiting read share the
 * queue and the reader; every member is a few lines.
 *
 * @internal
 */
export class Inbound {
  private readonly queue: Array<Uint8Array> = []
  private reader: ((effect: Effect.Effect<Uint8Array, SocketError>) => void) | undefined = undefined
  /** The peer ended or the socket closed: no more chunks will be queued. */
  ended = false

  constructor(private readonly host: InboundHost) {}

  private readonly onData = (chunk: Buffer): void => {
    const reader = this.reader
    if (reader !== undefined) {
      this.reader = undefined
      reader(Effect.succeed(chunk))
      return
    }
    // Nobody is reading: keep the chunk and stop the flow.
    this.queue.push(chunk)
    this.host.socket()?.pause()
  }

  /** 'end', 'close' or 'error' on the current socket: no more data will come. */
  private readonly onStop = (): void => {
    this.ended = true
    this.wake()
  }

  /** Fails a waiting read: the connection is closing or broken. */
  wake(): void {
    const reader = this.reader
    if (reader !== undefined) {
      this.reader = undefined
      reader(Effect.fail(this.host.failure()))
    }
  }

  attach(socket: Net.Socket): void {
    socket.on("data", this.onData)
    socket.on("end", this.onStop)
    socket.on("close", this.onStop)
    socket.on("error", this.onStop)
  }

  detach(socket: Net.Socket): void {
    socket.off("data", this.onData)
    socket.off("end", this.onStop)
    socket.off("close", this.onStop)
    socket.off("error", this.onStop)
  }

  /**
   * Stops taking data from `socket` and drops what is queued: unread data
   * would keep the stream paused and its 'end' from ever coming.
   */
  drain(socket: Net.Socket): void {
    this.queue.length = 0
    socket.off("data", this.onData)
    socket.resume()
  }

  /** Gives bytes back: the next read returns them first. */
  unread(data: Uint8Array): void {
    this.queue.unshift(data)
  }

  /** Bytes received and not yet read, in the queue and in Node's buffer. */
  buffered(): number {
    let total = this.host.socket()?.readableLength ?? 0
    for (const chunk of this.queue) {
      total += chunk.byteLength
    }
    return total
  }

  /** No chunk will come: the peer ended, we are closing, or the socket broke. */
  get stopped(): boolean {
    return this.ended || this.host.closing() || this.host.broken()
  }

  readonly poll = (): Uint8Array | undefined => {
    const chunk = this.queue.shift()
    if (chunk !== undefined && this.queue.length === 0 && !this.ended && !this.host.closing()) {
      this.host.socket()?.resume()
    }
    return chunk
  }

  readonly read: Effect.Effect<Uint8Array, SocketError> = Effect.suspend(() => {
    const chunk = this.poll()
    if (chunk !== undefined) return Effect.succeed(chunk)
    if (this.stopped) return Effect.fail(this.host.failure())
    return Effect.callback<Uint8Array, SocketError>((resume) => {
      this.reader = resume
      return Effect.sync(() => {
        if (this.reader === resume) this.reader = undefined
      })
    })
  })

  readonly awaitRead = (resume: (result: Effect.Effect<Uint8Array, SocketError>) => void): () => void => {
    const chunk = this.poll()
    if (chunk !== undefined) {
      resume(Effect.succeed(chunk))
      return () => {}
    }
    if (this.stopped) {
      resume(Effect.fail(this.host.failure()))
      return () => {}
    }
    this.reader = resume
    return () => {
      if (this.reader === resume) this.reader = undefined
    }
  }
}
