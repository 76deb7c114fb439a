/**
 * A server that refuses commands pipelined behind a message's final dot
 * (RFC 2920 §3.1 allows that grouping; since the 2023 SMTP smuggling
 * advisories some servers refuse it on purpose). None of the Debian MTAs
 * measured does (Postfix 3.7 even with smtpd_forbid_unauth_pipelining or
 * reject_unauth_pipelining, Exim 4.96; OpenSMTPD 6.8 and aiosmtpd 1.4 offer
 * no PIPELINING), so the refusing server is aiosmtpd with a handler that
 * offers PIPELINING and answers MAIL, RCPT and DATA that arrived behind the
 * dot with `503 5.5.0 Bad sequence of commands - pipelined after end of DATA`
 * (scripts/services/aiosmtpd/server.py, the AFTER_DATA listener). It logs
 * every refusal and every stored message with the client's address and port,
 * so the test sees, connection by connection, how often the client grouped
 * behind a dot.
 *
 * The wanted behaviour: a refused group is not a failed message (it is sent
 * again on its own, nothing was accepted for it), that connection stops
 * grouping, and the pool remembers the host so its next connections do not
 * pay for the lesson again. Skipped unless EFFECT_SMTP_AIOSMTPD is set.
 */
import { expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs/promises"
import { pooledBatch } from "./cases.js"
import { type LineEnd, uniqueToken } from "./mail.js"
import { aiosmtpd, describeServer } from "./servers.js"

const lineEnd: LineEnd = "\r\n"

interface Conversation {
  /** Client port → MAIL commands refused because they rode behind a dot. */
  readonly refusals: ReadonlyMap<string, number>
  /** Client port → messages stored. */
  readonly stored: ReadonlyMap<string, number>
}

const countBy = (lines: ReadonlyArray<string>, pattern: RegExp): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const line of lines) {
    const peer = pattern.exec(line)?.[1]
    if (peer !== undefined) counts.set(peer, (counts.get(peer) ?? 0) + 1)
  }
  return counts
}

/** What the server logged for the messages from `sender`. */
const conversation = (log: string, sender: string): Effect.Effect<Conversation> =>
  Effect.promise(async () => {
    const lines = (await Fs.readFile(log, "utf8")).split("\n").filter((line) => line.includes(`<${sender}>`))
    return {
      refusals: countBy(lines, /after-data-refused peer=(\S+) command=MAIL /),
      stored: countBy(lines, /stored listener=refuses-pipelined-after-data peer=(\S+) /)
    }
  })

const total = (counts: ReadonlyMap<string, number>): number => [...counts.values()].reduce((a, b) => a + b, 0)

describeServer("a server that refuses commands pipelined after the end of DATA (aiosmtpd)", aiosmtpd, (server) => {
  const target = { endpoint: server.afterData, maildir: server.maildir, lineEnd }

  const batch = (maxConnections: number) =>
    it.live(
      `200 of 200 through a pool of ${maxConnections}: each connection groups behind a dot at most once, and the server refused at least one group`,
      () =>
        Effect.gen(function*() {
          const from = `${uniqueToken("after-data")}@localhost`
          // Every send succeeds and every copy is stored intact, once.
          yield* pooledBatch(target, "after-data-pool", { pool: { maxConnections }, from })
          const { refusals, stored } = yield* conversation(server.log, from)
          expect(total(stored)).toBe(200)
          // The server did refuse grouping (else this test proves nothing) ...
          expect(total(refusals)).toBeGreaterThanOrEqual(1)
          // ... and no connection tried it again after its refusal.
          for (const [peer, count] of refusals) {
            expect(count, `connection from ${peer} grouped behind a dot ${count} times`).toBe(1)
          }
        }),
      120_000
    )
  batch(2)
  batch(8)

  it.live(
    "the pool remembers the host: connections opened after the first refusal never group behind a dot",
    () =>
      Effect.gen(function*() {
        const from = `${uniqueToken("after-data-memory")}@localhost`
        // 20 messages a connection: 200 messages need at least 10 connections.
        yield* pooledBatch(target, "after-data-memory", {
          pool: { maxConnections: 2, maxMessagesPerConnection: 20 },
          from
        })
        const { refusals, stored } = yield* conversation(server.log, from)
        expect(total(stored)).toBe(200)
        expect(stored.size).toBeGreaterThanOrEqual(10)
        // Only the connections open when the lesson was learnt can have paid for it.
        expect(total(refusals)).toBeGreaterThanOrEqual(1)
        expect(total(refusals)).toBeLessThanOrEqual(2)
      }),
    120_000
  )
})
