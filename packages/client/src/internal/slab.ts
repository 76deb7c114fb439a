/**
 * Small byte buffers carved out of shared slabs. A `Uint8Array` of more than
 * a few dozen bytes gets memory of its own outside V8's heap, which costs
 * microseconds to allocate and again to collect: more than encoding a 2 KB
 * message. Command lines and whole small messages are written into views
 * of one 64 KB slab instead, as Node's `Buffer.allocUnsafe` pool does.
 *
 * A slab is never rewritten: once full, the next one is made and the old
 * one lives on only as long as some view of it does. So a view handed to a
 * socket that queues it stays intact however long the queue.
 *
 * @internal
 */

const slabSize = 64 * 1024

/** Bigger requests get their own buffer: they would waste most of a slab. */
const largest = slabSize / 8

let slab = new ArrayBuffer(slabSize)
let offset = 0

/** `size` bytes, not zeroed: the caller overwrites all it uses. */
export const allocate = (size: number): Uint8Array => {
  if (size > largest) return new Uint8Array(size)
  if (offset + size > slabSize) {
    slab = new ArrayBuffer(slabSize)
    offset = 0
  }
  const view = new Uint8Array(slab, offset, size)
  // Eight-byte steps keep every view aligned, as typed-array views may need.
  offset += (size + 7) & ~7
  return view
}

const encoder = new TextEncoder()

/** A string as UTF-8 (command lines, small messages), in a slab when it fits. */
export const encode = (text: string): Uint8Array => {
  // UTF-8 needs at most three bytes for each UTF-16 code unit.
  if (text.length * 3 > largest) return encoder.encode(text)
  const start = offset + text.length * 3 > slabSize ? 0 : offset
  const room = allocate(text.length * 3)
  const { written } = encoder.encodeInto(text, room)
  // What the text did not need goes back to the slab.
  offset = start + ((written + 7) & ~7)
  return room.subarray(0, written)
}
