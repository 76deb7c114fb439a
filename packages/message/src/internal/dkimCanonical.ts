/**
 * DKIM canonicalisation (RFC 6376 §3.4): what a header field and the body
 * become before they are hashed. The body is canonicalised as it streams, in
 * constant memory: the only state carried from one chunk to the next is a
 * count of line breaks not yet known to be inside the body (trailing empty
 * lines are ignored) and, for "relaxed", whether white space is pending.
 */
import type { Sha256 } from "../DkimCrypto.js"

/** @internal */
export type Canonicalization = "simple" | "relaxed"

/**
 * One header field, canonicalised, with its CRLF. `field` is the field as it
 * appears in the message (binary string), folding included, without the CRLF
 * that ends it.
 *
 * relaxed (§3.4.2): the name in lower case; the value unfolded, every run of
 * white space one space, none at its end; none around the colon.
 *
 * @internal
 */
export const canonicalHeader = (mode: Canonicalization, field: string): string => {
  if (mode === "simple") return `${field}\r\n`
  const colon = field.indexOf(":")
  const name = (colon === -1 ? field : field.slice(0, colon)).replace(/[ \t]+$/, "")
  const value = colon === -1 ? "" : field.slice(colon + 1)
  const unfolded = value.replace(/\r\n/g, "").replace(/[ \t]+/g, " ").replace(/^ | $/g, "")
  // Only ASCII letters: a binary string's 0xC0-0xDE would change under toLowerCase.
  return `${name.replace(/[A-Z]+/g, (s) => s.toLowerCase())}:${unfolded}\r\n`
}

/** @internal */
export interface BodyHash {
  /** SHA-256 of the canonical body. */
  readonly hash: Uint8Array
  /** Octets of the canonical body: the value of `l=`. */
  readonly length: number
}

/**
 * Canonicalises and hashes a body as it streams. Its input must have CRLF
 * line breaks only, never split between chunks (see lineBreaks.ts).
 *
 * @internal
 */
export interface BodyHasher {
  readonly write: (chunk: Uint8Array) => void
  readonly end: () => BodyHash
}

const CR = 13
const LF = 10
const SP = 32
const TAB = 9

/** CRLFs, hashed in slices of this, for runs of empty lines of any length. */
const crlfs = new Uint8Array(8192).map((_, i) => (i % 2 === 0 ? CR : LF))

/**
 * simple (§3.4.3): the body as it is, but "*CRLF" at its end becomes a single
 * CRLF, and an empty body is a CRLF.
 */
const simple = (sha: Sha256): BodyHasher => {
  let length = 0
  let pending = 0 // CRLFs at the end so far: empty lines, unless more text follows
  const hashCrlfs = (count: number) => {
    length += count * 2
    for (let left = count * 2; left > 0; left -= crlfs.length) {
      sha.update(crlfs.subarray(0, Math.min(left, crlfs.length)))
    }
  }
  return {
    write: (chunk) => {
      let end = chunk.length
      while (end >= 2 && chunk[end - 1] === LF && chunk[end - 2] === CR) end -= 2
      if (end === 0) {
        pending += chunk.length / 2
        return
      }
      hashCrlfs(pending)
      sha.update(chunk.subarray(0, end))
      length += end
      pending = (chunk.length - end) / 2
    },
    end: () => {
      hashCrlfs(1)
      return { hash: sha.digest(), length }
    }
  }
}

/**
 * relaxed (§3.4.4): white space at the end of a line ignored, every other run
 * of it one space; empty lines at the end ignored; a non-empty body ends with
 * CRLF, an empty one stays empty.
 */
const relaxed = (sha: Sha256): BodyHasher => {
  let length = 0
  let pendingLines = 0
  let pendingSpace = false
  let wroteAny = false
  const out = new Uint8Array(65536)
  let o = 0
  const flush = () => {
    if (o === 0) return
    sha.update(out.subarray(0, o))
    length += o
    o = 0
  }
  const put = (b: number) => {
    if (o === out.length) flush()
    out[o++] = b
  }
  return {
    write: (chunk) => {
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i]
        if (b === SP || b === TAB) {
          pendingSpace = true
        } else if (b === CR) {
          // Always a CRLF here: the LF is skipped with it.
          i++
          pendingSpace = false
          pendingLines++
        } else {
          if (pendingLines > 0) {
            for (; pendingLines > 0; pendingLines--) {
              put(CR)
              put(LF)
            }
          }
          if (pendingSpace) {
            put(SP)
            pendingSpace = false
          }
          put(b)
          wroteAny = true
        }
      }
    },
    end: () => {
      if (wroteAny) {
        put(CR)
        put(LF)
      }
      flush()
      return { hash: sha.digest(), length }
    }
  }
}

/** @internal */
export const bodyHasher = (mode: Canonicalization, sha: Sha256): BodyHasher =>
  mode === "simple" ? simple(sha) : relaxed(sha)
