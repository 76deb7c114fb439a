/**
 * The DKIM-Signature header field (RFC 6376 §3.5), folded to 78-column
 * lines. It is hashed with an empty `b=` and sent with the signature in it,
 * so `b=` comes last, on a line of its own: the field as hashed is then
 * exactly the field as sent with b='s value (and the folding inside it)
 * taken out, which is what a verifier reconstructs.
 */

/** @internal */
export interface Tags {
  readonly algorithm: string
  readonly canonicalization: string
  readonly domain: string
  readonly selector: string
  readonly timestamp: number
  readonly expiration: number | undefined
  readonly identity: string | undefined
  readonly bodyLength: number | undefined
  /** The `h=` names, lower case, in order. */
  readonly headers: ReadonlyArray<string>
  readonly bodyHash: string
}

const lineWidth = 78

interface Token {
  readonly text: string
  /** Separated from the token before it by a space when on the same line. */
  readonly spaced: boolean
}

const fold = (start: string, tokens: ReadonlyArray<Token>): string => {
  const lines: Array<string> = []
  let line = start
  for (const token of tokens) {
    const joined = token.spaced ? `${line} ${token.text}` : `${line}${token.text}`
    if (joined.length <= lineWidth || line === start) line = joined
    else {
      lines.push(line)
      line = `\t${token.text}`
    }
  }
  lines.push(line)
  return lines.join("\r\n")
}

/**
 * The field as it is hashed: every tag, and `b=` empty, without a final CRLF.
 *
 * @internal
 */
export const unsignedField = (tags: Tags): string => {
  const tag = (text: string): Token => ({ text: `${text};`, spaced: true })
  // h= may break after any colon (RFC 6376 §3.5 allows FWS around them).
  const names = tags.headers.map((name, i): Token => ({
    text: `${i === 0 ? "h=" : ""}${name}${i === tags.headers.length - 1 ? ";" : ":"}`,
    spaced: i === 0
  }))
  const tokens: Array<Token> = [
    tag("v=1"),
    tag(`a=${tags.algorithm}`),
    tag(`c=${tags.canonicalization}`),
    tag(`d=${tags.domain}`),
    tag(`s=${tags.selector}`),
    tag(`t=${tags.timestamp}`),
    ...(tags.expiration === undefined ? [] : [tag(`x=${tags.expiration}`)]),
    ...(tags.identity === undefined ? [] : [tag(`i=${tags.identity}`)]),
    ...(tags.bodyLength === undefined ? [] : [tag(`l=${tags.bodyLength}`)]),
    ...names,
    tag(`bh=${tags.bodyHash}`)
  ]
  return `${fold("DKIM-Signature:", tokens)}\r\n\tb=`
}

/**
 * The field as it is sent: `unsigned` with the base64 signature after its
 * `b=`, folded, and the CRLF that ends the field.
 *
 * @internal
 */
export const signedField = (unsigned: string, signature: string): string => {
  const first = lineWidth - "\tb=".length
  const lines = [signature.slice(0, first)]
  for (let at = first; at < signature.length; at += lineWidth - 1) lines.push(signature.slice(at, at + lineWidth - 1))
  return `${unsigned}${lines.join("\r\n\t")}\r\n`
}
