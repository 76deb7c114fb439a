/**
 * Line breaks as SMTP carries them. The client sends every CRLF, lone CR and
 * lone LF as CRLF, and ends the message with a line break when the content
 * lacks one; a signer must hash exactly those bytes, so it normalises the
 * same way first and sends what it hashed.
 */

const CR = 13
const LF = 10

/**
 * True when every CR in `chunk` is followed by LF and every LF follows a CR,
 * but for a CR in the last position (its LF may be in the next chunk).
 */
const isCanonical = (chunk: Uint8Array): boolean => {
  for (let at = chunk.indexOf(LF); at !== -1; at = chunk.indexOf(LF, at + 1)) {
    if (at === 0 || chunk[at - 1] !== CR) return false
  }
  for (let at = chunk.indexOf(CR); at !== -1 && at < chunk.length - 1; at = chunk.indexOf(CR, at + 1)) {
    if (chunk[at + 1] !== LF) return false
  }
  return true
}

/**
 * A streaming normaliser. Its output never ends in the middle of a CRLF (a
 * CR at the end of a chunk waits for the next one), so each output chunk
 * holds whole line breaks; `end` adds the final CRLF when the content did not
 * end with one. An empty content stays empty.
 *
 * @internal
 */
export interface LineBreaks {
  readonly write: (chunk: Uint8Array) => Uint8Array
  readonly end: () => Uint8Array
}

const crlf = new Uint8Array([CR, LF])
const empty = new Uint8Array(0)

/** @internal */
export const normaliser = (): LineBreaks => {
  let pendingCR = false
  let wroteAny = false
  let endsWithLF = false
  return {
    write: (chunk) => {
      if (chunk.length === 0) return empty
      wroteAny = true
      if (!pendingCR && isCanonical(chunk)) {
        // The common case: nothing to rewrite, the bytes pass as they are.
        pendingCR = chunk[chunk.length - 1] === CR
        const out = pendingCR ? chunk.subarray(0, chunk.length - 1) : chunk
        if (out.length > 0) endsWithLF = out[out.length - 1] === LF
        return out
      }
      const out = new Uint8Array(chunk.length * 2 + 2)
      let o = 0
      let cr = pendingCR
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i]
        if (cr) {
          out[o++] = CR
          out[o++] = LF
          cr = false
          if (b === LF) continue
        }
        if (b === CR) cr = true
        else if (b === LF) {
          out[o++] = CR
          out[o++] = LF
        } else out[o++] = b
      }
      pendingCR = cr
      if (o > 0) endsWithLF = out[o - 1] === LF
      return out.subarray(0, o)
    },
    end: () => {
      const needed = pendingCR || (wroteAny && !endsWithLF)
      pendingCR = false
      return needed ? crlf : empty
    }
  }
}
