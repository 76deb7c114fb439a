/**
 * One pass over a message as it streams: its line breaks normalised (what
 * the SMTP client sends), its header block split off and held, its body
 * canonicalised and hashed in every mode a signature needs, without holding
 * the body. A small message is kept whole as well, so that it need not be
 * read a second time.
 */
import * as Bytes from "effect/Bytes"
import type { Sha256 } from "../DkimCrypto.js"
import { DkimContentError } from "../DkimError.js"
import { type BodyHash, bodyHasher, type Canonicalization } from "./dkimCanonical.js"
import { normaliser } from "./lineBreaks.js"

/** A signer holds the header fields; this bounds them (Postfix's own limit is 100 KiB of headers). */
export const maxHeaderOctets = 1024 * 1024

/** @internal */
export interface Scanned {
  /** The header fields, each with its CRLF, without the empty line after them. */
  readonly header: Uint8Array
  readonly bodies: ReadonlyMap<Canonicalization, BodyHash>
  /** The whole normalised message, when it was at most `keepUpTo` octets. */
  readonly kept: Uint8Array | undefined
  /** The length of the normalised message. */
  readonly octets: number
}

/** @internal */
export interface Scanner {
  /** The chunk with its line breaks normalised, to send on. */
  readonly write: (chunk: Uint8Array) => Uint8Array | DkimContentError
  /**
   * The last normalised bytes (a final CRLF, if the content lacked one; an
   * empty line, if it had no body), and what the pass found.
   */
  readonly end: () => readonly [Uint8Array, Scanned] | DkimContentError
}

const CR = 13
const LF = 10
const crlf = new Uint8Array([CR, LF])

/**
 * One pass over a message. Its parts (`take`, `addHeader`, `end`) share
 * where the pass stands (in the header or the body, at a line start, what
 * is kept), so it stays one state machine of closures.
 *
 * @internal
 */
export const scanner = (options: {
  readonly bodyModes: ReadonlyArray<Canonicalization>
  readonly sha256: () => Sha256
  readonly keepUpTo: number
}): Scanner => {
  const lineBreaks = normaliser()
  const hashers = options.bodyModes.map((mode) => [mode, bodyHasher(mode, options.sha256())] as const)
  const header: Array<Uint8Array> = []
  let headerOctets = 0
  let inHeader = true
  let atLineStart = true
  let kept: Array<Uint8Array> | undefined = options.keepUpTo > 0 ? [] : undefined
  let octets = 0

  const body = (bytes: Uint8Array) => {
    if (bytes.length === 0) return
    for (const [, hasher] of hashers) hasher.write(bytes)
  }

  const addHeader = (bytes: Uint8Array): DkimContentError | undefined => {
    headerOctets += bytes.length
    if (headerOctets > maxHeaderOctets) {
      return new DkimContentError({
        reason: "HeaderTooLarge",
        detail: `is over ${maxHeaderOctets} octets without the empty line that ends it`
      })
    }
    // A copy: a view would hold the caller's whole chunk.
    if (bytes.length > 0) header.push(bytes.slice())
    return undefined
  }

  const take = (bytes: Uint8Array): DkimContentError | undefined => {
    if (bytes.length === 0) return undefined
    octets += bytes.length
    if (kept !== undefined) {
      if (octets > options.keepUpTo) kept = undefined
      else kept.push(bytes.slice())
    }
    if (!inHeader) {
      body(bytes)
      return undefined
    }
    // Normalised chunks never split a CRLF: a CR at the start of a line is an empty line.
    for (let i = 0; i < bytes.length;) {
      if (atLineStart && bytes[i] === CR) {
        inHeader = false
        const error = addHeader(bytes.subarray(0, i))
        body(bytes.subarray(i + 2))
        return error
      }
      const lf = bytes.indexOf(LF, i)
      if (lf === -1) {
        atLineStart = false
        break
      }
      atLineStart = true
      i = lf + 1
    }
    return addHeader(bytes)
  }

  return {
    write: (chunk) => {
      const out = lineBreaks.write(chunk)
      return take(out) ?? out
    },
    end: () => {
      const last = lineBreaks.end()
      // A message of header fields alone gets the empty line that ends them:
      // the same message (with an empty body), which every verifier can read.
      const tail = inHeader && headerOctets + last.length > 0 ? Bytes.concat([last, crlf]) : last
      const error = take(tail)
      if (error !== undefined) return error
      const bodies = new Map<Canonicalization, BodyHash>()
      for (const [mode, hasher] of hashers) bodies.set(mode, hasher.end())
      return [tail, {
        header: Bytes.concat(header),
        bodies,
        // A body kept in one chunk is kept as it is: a copy of a whole message for nothing.
        kept: kept === undefined ? undefined : kept.length === 1 ? kept[0] : Bytes.concat(kept),
        octets
      }]
    }
  }
}
