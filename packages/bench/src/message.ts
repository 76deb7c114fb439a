/**
 * The messages every client sends: plain RFC 5322 text with CRLF line ends
 * and no line starting with a dot, so the bytes on the wire are the same
 * whoever encodes them (the raw clients write them as they are).
 */
import * as Stream from "effect/Stream"

export const from = "bench@effect-smtp.dev"
export const to = "sink@example.com"

const header = (subject: string) =>
  `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <bench@effect-smtp.dev>\r\n\r\n`

/** 76 characters and CRLF: a body line as mail clients write them. */
const line = `${"x".repeat(76)}\r\n`

/** A message of exactly `size` bytes (at least the header and one CRLF). */
export const ofSize = (size: number): string => {
  const head = header(`${size} bytes`)
  const room = size - head.length
  let full = Math.floor(room / line.length)
  let rest = room - full * line.length
  // A line needs its CRLF: a single byte left over lengthens the last line.
  if (rest === 1 && full > 0) {
    full -= 1
    rest += line.length
  }
  const last = rest < 2 ? "\r\n" : `${"x".repeat(rest - 2)}\r\n`
  return head + line.repeat(full) + last
}

/** One block of whole lines, reused for every chunk of a large message. */
const block = new TextEncoder().encode(line.repeat(840)) // 65,520 bytes

/**
 * A large message as a stream of 64 KB blocks that all share one buffer, so
 * the message itself costs no memory: what grows is the sender's buffering.
 */
export interface Large {
  readonly size: number
  readonly head: Uint8Array
  readonly block: Uint8Array
  readonly blocks: number
  readonly stream: Stream.Stream<Uint8Array>
}

export const large = (approximateSize: number): Large => {
  const head = new TextEncoder().encode(header(`about ${approximateSize} bytes`))
  const blocks = Math.max(1, Math.round(approximateSize / block.length))
  return {
    size: head.length + blocks * block.length,
    head,
    block,
    blocks,
    // One block per element, as a socket would be fed: never the whole message in one chunk.
    stream: Stream.concat(Stream.succeed(head), Stream.take(Stream.forever(Stream.succeed(block)), blocks))
  }
}
