/**
 * The two volume cases every interop server runs once: a large message
 * streamed and compared byte for byte, and a batch through a small pool with
 * every stored copy compared.
 */
import type { PoolOptions } from "@effect-smtp/client/SmtpClient"
import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { clientLayer, type ClientOptions, send, sendAllThrough } from "./client.js"
import {
  chunked,
  expectStoredCopy,
  headers,
  largeMessage,
  type LineEnd,
  SENDER,
  takeOneStored,
  takeStored,
  trickyBody,
  uniqueToken,
  USER
} from "./mail.js"
import type { Endpoint } from "./servers.js"

/** A server's listener, where it stores what it accepts, and how. */
export interface StoringServer {
  readonly endpoint: Endpoint
  readonly maildir: string
  readonly lineEnd: LineEnd
  /** Security, TLS and AUTH for this listener. */
  readonly options?: ClientOptions | undefined
}

/** A message of `bytes` (20 MB by default) as a Stream, stored byte for byte after normalisation. */
export const streamedLargeMessage = (server: StoringServer, label: string, bytes = 20 * 1024 * 1024) =>
  Effect.gen(function*() {
    const since = Date.now()
    const token = uniqueToken(label)
    const content = largeMessage(token, bytes)
    const result = yield* send(server.endpoint, { from: SENDER, to: [USER], content: chunked(content) }, server.options)
    expect(result.accepted).toEqual([USER])
    const stored = yield* takeOneStored(server.maildir, token, { since, timeoutMs: 60_000 })
    expectStoredCopy(stored, content, server.lineEnd)
  })

/**
 * `messages` sends at once through a pool of `maxConnections`: every one
 * succeeds, and every stored copy equals its message after normalisation.
 * `from` marks the batch in a server's log.
 */
export const pooledBatch = (
  server: StoringServer,
  label: string,
  options: {
    readonly messages?: number
    readonly pool?: PoolOptions
    readonly from?: string
  } = {}
) =>
  Effect.gen(function*() {
    const messages = options.messages ?? 200
    const since = Date.now()
    const token = uniqueToken(label)
    const contents = Array.from(
      { length: messages },
      (_, i) => headers(`${token}-${i}`, { subject: `${token} #${i}` }) + trickyBody(`${token}-${i}`)
    )
    yield* sendAllThrough(
      clientLayer(server.endpoint, { ...server.options, pool: options.pool ?? { maxConnections: 2 } }),
      contents.map((content) => ({ from: options.from ?? SENDER, to: [USER], content }))
    )
    const stored = yield* takeStored(server.maildir, token, { since, count: messages, timeoutMs: 60_000 })
    const seen = new Set<number>()
    for (const copy of stored) {
      const index = Number(new RegExp(`${token} #(\\d+)\\r?\\n`).exec(copy.toString("utf8"))?.[1])
      expect(seen.has(index), `message #${index} stored twice`).toBe(false)
      seen.add(index)
      expectStoredCopy(copy, contents[index] ?? "", server.lineEnd)
    }
    expect(seen.size).toBe(messages)
  })
