import type { Capabilities, Reply } from "../SmtpProtocol.js"

export type { Capabilities }

/** What a server that answered HELO (no extensions) supports. @internal */
export const none: Capabilities = fromLines([])

/**
 * Parses the EHLO reply; the first line is the server's greeting, each
 * further line a keyword and its parameters.
 *
 * @internal
 */
export function fromEhlo(reply: Reply): Capabilities {
  return fromLines(reply.lines.slice(1))
}

function fromLines(lines: ReadonlyArray<string>): Capabilities {
  const keywords = new Map<string, ReadonlyArray<string>>()
  const auth = new Set<string>()
  for (const line of lines) {
    const words = line.trim().split(/\s+/).filter((w) => w.length > 0)
    if (words.length === 0) continue // smtp-sink ends its reply with an empty "250 "
    const keyword = words[0].toUpperCase()
    const params = words.slice(1)
    // Old servers write "AUTH=LOGIN PLAIN" beside or instead of "AUTH LOGIN PLAIN".
    if (keyword.startsWith("AUTH=")) {
      for (const m of [keyword.slice(5), ...params]) if (m.length > 0) auth.add(m.toUpperCase())
      continue
    }
    keywords.set(keyword, params)
    if (keyword === "AUTH") { for (const m of params) auth.add(m.toUpperCase()) }
  }
  const sizeParam = keywords.get("SIZE")?.[0]
  const size = sizeParam !== undefined && /^\d+$/.test(sizeParam) && Number(sizeParam) > 0
    ? Number(sizeParam)
    : undefined
  return {
    keywords,
    size,
    pipelining: keywords.has("PIPELINING"),
    eightBitMime: keywords.has("8BITMIME"),
    smtpUtf8: keywords.has("SMTPUTF8"),
    dsn: keywords.has("DSN"),
    enhancedStatusCodes: keywords.has("ENHANCEDSTATUSCODES"),
    chunking: keywords.has("CHUNKING"),
    binaryMime: keywords.has("BINARYMIME"),
    startTls: keywords.has("STARTTLS"),
    requireTls: keywords.has("REQUIRETLS"),
    auth: [...auth]
  }
}
