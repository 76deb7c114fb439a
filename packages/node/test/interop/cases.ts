/**
 * Cases every interop server runs: a refused recipient beside a known one,
 * an unknown only recipient, and the volume cases (once per server): a large
 * message streamed and compared byte for byte, and a batch through a small
 * pool with every stored copy compared.
 */
import { SmtpError } from "@effect-smtp/client"
import type { PoolOptions } from "@effect-smtp/client/SmtpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { clientLayer, type ClientOptions, send, sendAllThrough } from "./client.js"
import {
  chunked,
  expectStoredCopy,
  headers,
  largeMessage,
  type LineEnd,
  plainBody,
  SENDER,
  takeOneStored,
  takeStored,
  trickyBody,
  uniqueToken,
  UNKNOWN,
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

/** A known and an unknown recipient: delivered to the first, the second reported as `rejection` says. */
export const oneOfTwoRefused = (
  server: StoringServer,
  label: string,
  rejection: { readonly statusCode: number; readonly enhancedStatusCode?: string }
) =>
  Effect.gen(function*() {
    const since = Date.now()
    const token = uniqueToken(label)
    const content = headers(token, { to: `${USER}, ${UNKNOWN}` }) + plainBody(token)
    const result = yield* send(server.endpoint, { from: SENDER, to: [USER, UNKNOWN], content }, server.options)
    expect(result.accepted).toEqual([USER])
    expect(result.rejected).toEqual([expect.objectContaining({ recipient: UNKNOWN, ...rejection })])
    const stored = yield* takeOneStored(server.maildir, token, { since })
    expectStoredCopy(stored, content, server.lineEnd)
  })

/** The only recipient is unknown: SmtpCommandError `statusCode`, naming that recipient. */
export const onlyRecipientRefused = (server: StoringServer, label: string, statusCode: number) =>
  Effect.gen(function*() {
    const token = uniqueToken(label)
    const error = yield* Effect.flip(
      send(server.endpoint, { from: SENDER, to: [UNKNOWN], content: headers(token) + plainBody(token) }, server.options)
    )
    if (!(error instanceof SmtpError.SmtpCommandError)) {
      return expect.unreachable(`expected SmtpCommandError, got ${error._tag}: ${error.message}`)
    }
    expect(error.statusCode).toBe(statusCode)
    expect(error.rejectedRecipients).toEqual([expect.objectContaining({ recipient: UNKNOWN, statusCode })])
  })

/** The volume cases as tests; `transfer` says how the body goes ("over BDAT", ...). */
export const volumeTests = (server: StoringServer, label: string, transfer: string) =>
  describe("volume (once per server)", () => {
    it.live(
      `20 MB streamed ${transfer} is stored byte for byte`,
      () => streamedLargeMessage(server, `${label}-20mb`),
      120_000
    )
    it.live(
      "200 messages through a pool of 2 are all stored, each intact",
      () => pooledBatch(server, `${label}-pool`),
      120_000
    )
  })

/**
 * Sends with NOTIFY=SUCCESS and an ENVID of its own, checks the message's
 * stored copy, and returns the server's success report as text (a server may
 * leave the ENVID out of it: the caller checks what its server writes).
 */
export const successReport = (server: StoringServer, label: string, options: { readonly from?: string } = {}) =>
  Effect.gen(function*() {
    const since = Date.now()
    const token = uniqueToken(label)
    const envid = uniqueToken("envid")
    const content = headers(token) + plainBody(token)
    const dsn = { notify: ["SUCCESS"] as const, envid, ret: "HDRS" as const }
    yield* send(server.endpoint, { from: options.from ?? SENDER, to: [USER], content, dsn }, server.options)
    // The report quotes the message's headers, so the token finds both.
    const both = yield* takeStored(server.maildir, token, { since, count: 2 })
    const report = both.find((copy) => /message\/delivery-status/i.test(copy.toString("utf8")))
    const message = both.find((copy) => copy !== report)
    if (report === undefined || message === undefined) {
      return expect.unreachable(`no delivery report among the two messages holding ${token}`)
    }
    expectStoredCopy(message, content, server.lineEnd)
    return { envid, report: report.toString("utf8") }
  })
