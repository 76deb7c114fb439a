import * as Bytes from "effect/Bytes"
import * as Effect from "effect/Effect"

const CR = 0x0d
const LF = 0x0a
const DOT = 0x2e
const empty = new Uint8Array(0)
const decoder = new TextDecoder()

/** Bytes appended one by one or in runs, into one growing array; past `limit` they are dropped. */
class GrowingBytes {
  private data = new Uint8Array(256)
  length = 0
  constructor(private readonly limit: number) {}

  private room(extra: number): number {
    const wanted = Math.min(this.limit, this.length + extra)
    if (wanted > this.data.length) {
      const next = new Uint8Array(Math.min(this.limit, Math.max(wanted, this.data.length * 2)))
      next.set(this.data.subarray(0, this.length))
      this.data = next
    }
    return wanted - this.length
  }

  push(byte: number): void {
    if (this.room(1) > 0) this.data[this.length++] = byte
  }

  append(bytes: Uint8Array): void {
    const n = this.room(bytes.length)
    this.data.set(bytes.subarray(0, n), this.length)
    this.length += n
  }

  get value(): Uint8Array {
    return this.data.slice(0, this.length)
  }
}

/**
 * A DATA body read across chunks: finds its end (CRLF "." CRLF, or "." CRLF
 * at the very start), undoes dot-stuffing and keeps at most `keep` bytes of
 * the result, and, with `raw`, the bytes as sent, terminator included.
 *
 * @internal
 */
export class BodyDecoder {
  // 0 in a line, 1 after CR, 2 at a line start, 3 after a leading dot, 4 after a leading dot and CR.
  private state = 2
  private readonly body: GrowingBytes
  private readonly raw: GrowingBytes | undefined

  constructor(keep: number, raw = false) {
    this.body = new GrowingBytes(keep)
    this.raw = raw ? new GrowingBytes(Number.MAX_SAFE_INTEGER) : undefined
  }

  /** Reads `chunk`; the offset just past the terminator when the body ended in it, else -1. */
  push(chunk: Uint8Array): number {
    const end = this.scan(chunk)
    this.raw?.append(end === -1 ? chunk : chunk.subarray(0, end))
    return end
  }

  private scan(chunk: Uint8Array): number {
    const body = this.body
    let state = this.state
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]
      if (state === 4 && b === LF) {
        this.state = 2
        return i + 1
      }
      if (state === 3 && b !== CR) {
        // A stuffed dot: the leading dot is dropped, this byte is content.
        state = 0
      } else if (state === 4) {
        // ".\r" followed by something else: a malformed body; the dot goes as a
        // stuffed one would, the CR is kept.
        body.push(CR)
        state = 0
      }
      if (state === 2 && b === DOT) {
        state = 3
        continue
      }
      if (state === 3 && b === CR) {
        state = 4
        continue
      }
      body.push(b)
      state = b === CR ? 1 : state === 1 && b === LF ? 2 : 0
    }
    this.state = state
    return -1
  }

  /** The body with dot-stuffing undone (at most `keep` bytes). */
  get decoded(): Uint8Array {
    return this.body.value
  }

  /** The bytes as sent, terminator included (only with `raw`). */
  get sent(): Uint8Array {
    return this.raw?.value ?? empty
  }
}

/**
 * One direction of a connection, read by pulling: a line, exactly n bytes, or
 * a DATA body. `next` gives the next chunk, or `undefined` once the peer
 * closed.
 *
 * @internal
 */
export class ByteReader {
  private buffer: Uint8Array = empty
  private ended = false

  constructor(private readonly next: Effect.Effect<Uint8Array | undefined>) {}

  /** Bytes received and not read yet. */
  get buffered(): number {
    return this.buffer.length
  }

  /** Drops what was received and not read (the plaintext behind STARTTLS). */
  discard(): void {
    this.buffer = empty
  }

  /** Waits for more bytes; false when none will come. */
  private readonly more: Effect.Effect<boolean> = Effect.suspend(() =>
    this.ended ? Effect.succeed(false) : Effect.map(this.next, (chunk) => {
      if (chunk === undefined) {
        this.ended = true
        return false
      }
      this.buffer = this.buffer.length === 0 ? chunk : Bytes.concat([this.buffer, chunk])
      return true
    })
  )

  /**
   * The next line without its end; `undefined` when the peer closed first,
   * `null` when it grew past `maxBytes`. A line ends at CRLF, or with
   * `bareLf` at a LF alone too (its CR, if any, removed), as Postfix reads.
   */
  readLine(options: { readonly maxBytes: number; readonly bareLf: boolean }): Effect.Effect<string | undefined | null> {
    return Effect.suspend(() => {
      const buffer = this.buffer
      for (let lf = buffer.indexOf(LF); lf !== -1; lf = buffer.indexOf(LF, lf + 1)) {
        const crlf = lf > 0 && buffer[lf - 1] === CR
        if (!crlf && !options.bareLf) continue
        const line = decoder.decode(buffer.subarray(0, crlf ? lf - 1 : lf))
        this.buffer = buffer.subarray(lf + 1)
        return Effect.succeed(line)
      }
      if (buffer.length > options.maxBytes) return Effect.succeed(null)
      return Effect.flatMap(this.more, (more) => (more ? this.readLine(options) : Effect.succeed(undefined)))
    })
  }

  /** Exactly `n` bytes, or `undefined` when the peer closed first. */
  readBytes(n: number): Effect.Effect<Uint8Array | undefined> {
    return Effect.suspend(() => {
      if (this.buffer.length >= n) {
        const taken = this.buffer.subarray(0, n)
        this.buffer = this.buffer.subarray(n)
        return Effect.succeed(taken)
      }
      return Effect.flatMap(this.more, (more) => (more ? this.readBytes(n) : Effect.succeed(undefined)))
    })
  }

  /** Feeds `body` up to the end of a DATA body; false when the peer closed first. */
  readData(body: BodyDecoder): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const end = body.push(this.buffer)
      if (end !== -1) {
        this.buffer = this.buffer.subarray(end)
        return Effect.succeed(true)
      }
      this.buffer = empty
      return Effect.flatMap(this.more, (more) => (more ? this.readData(body) : Effect.succeed(false)))
    })
  }
}
