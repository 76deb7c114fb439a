/**
 * Bytes and the "binary string" view of them. Header fields are signed as
 * the exact octets on the wire, which may be 8-bit (RFC 6532 UTF-8 headers):
 * one character per octet (0-255) lets them be handled as text and turned
 * back into the same octets. `TextDecoder("latin1")` is not this: it decodes
 * windows-1252, which maps 0x80-0x9F elsewhere.
 */

/** @internal */
export const toBinaryString = (bytes: Uint8Array): string => {
  let text = ""
  // In slices: a spread of a whole large array would overflow the call stack.
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as Array<number>)
  }
  return text
}

/** Only for strings of code points 0-255 (binary strings and ASCII). @internal */
export const fromBinaryString = (text: string): Uint8Array => {
  const bytes = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i)
  return bytes
}

/** @internal */
export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/** Standard base64 with padding (RFC 4648 §4), as DKIM's tags use. @internal */
export const toBase64 = (bytes: Uint8Array): string => {
  let out = ""
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2]
    out += base64Alphabet[n >> 18] + base64Alphabet[(n >> 12) & 63] + base64Alphabet[(n >> 6) & 63] +
      base64Alphabet[n & 63]
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = bytes[i] << 16
    out += `${base64Alphabet[n >> 18]}${base64Alphabet[(n >> 12) & 63]}==`
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8)
    out += `${base64Alphabet[n >> 18]}${base64Alphabet[(n >> 12) & 63]}${base64Alphabet[(n >> 6) & 63]}=`
  }
  return out
}

/**
 * Decodes base64 or base64url, ignoring white space (PEM bodies are folded);
 * `undefined` when it is not base64.
 *
 * @internal
 */
export const fromBase64 = (text: string): Uint8Array | undefined => {
  const clean = text.replace(/\s+/g, "").replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "")
  if (!/^[A-Za-z0-9+/]*$/.test(clean) || clean.length % 4 === 1) return undefined
  const bytes = new Uint8Array(Math.floor((clean.length * 3) / 4))
  let bits = 0
  let value = 0
  let at = 0
  for (let i = 0; i < clean.length; i++) {
    // Only the low bits are still to be read out.
    value = ((value << 6) | base64Alphabet.indexOf(clean[i])) & 0xffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      bytes[at++] = (value >> bits) & 0xff
    }
  }
  return bytes
}
