import { SmtpClient } from "@effect-smtp/client"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"

/**
 * A server that refuses commands pipelined behind a body's final dot (RFC
 * 2920 §3.1 allows them; some servers refuse them since the 2023 SMTP
 * smuggling advisories) answers them 503. The message is then sent again on
 * its own, never failed and never sent twice, and grouping stops.
 */

const message = (i: number) => ({
  from: "a@example.com",
  to: [`r${i}@example.com`],
  content: `Subject: ${i}\r\nMessage-ID: <m${i}@example.com>\r\n\r\nbody ${i}\r\n`
})

/** Counts the connections the client opened. */
const counting =
  (server: ReturnType<typeof TestSocket.smtpServer>, connections: { count: number }) => (side: TestSocket.ServerSide) =>
    Effect.andThen(
      Effect.sync(() => {
        connections.count++
      }),
      server.script(side)
    )

const client = (
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  maxConnections: number
) =>
  scriptedClient(script, {
    host: "mail.test",
    port: 25,
    security: "none",
    pool: { maxConnections, maxMessagesPerConnection: 10 }
  })

describe("a server that refuses commands pipelined after the end of DATA", () => {
  for (const maxConnections of [2, 8]) {
    it.effect(
      `200 of 200 through a pool of ${maxConnections}: each refused message sent again on its own, once; grouping off after the first refusal`,
      () =>
        Effect.gen(function*() {
          const server = TestSocket.smtpServer({
            capabilities: ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"],
            refusePipelinedAfterData: true
          })
          const connections = { count: 0 }
          const results = yield* Effect.forEach(
            Array.from({ length: 200 }, (_, i) => i),
            (i) => SmtpClient.send(message(i)),
            { concurrency: 32 }
          ).pipe(Effect.provide(client(counting(server, connections), maxConnections)))

          expect(results).toHaveLength(200)
          expect(results.every((r) => r.accepted.length === 1)).toBe(true)
          // Exactly once each, and in full.
          const ids = server.received.map((m) => /Message-ID: <(m\d+)@/.exec(new TextDecoder().decode(m.data))?.[1])
          expect(new Set(ids).size).toBe(200)
          expect(server.received).toHaveLength(200)
          // The first refusal teaches every connection open then (at most one
          // refusal each) and every connection opened after it (none).
          expect(server.refusedAfterData()).toBeGreaterThan(0)
          const refusedGroups = server.commands.filter((c) => c.startsWith("MAIL FROM")).length - 200
          expect(refusedGroups).toBeLessThanOrEqual(maxConnections)
          expect(server.pipelinedAfterBody()).toBe(refusedGroups)
          // 200 messages at 10 a connection: the pool replaced connections, and none of the later ones grouped.
          expect(connections.count).toBeGreaterThan(maxConnections)
        }),
      30_000
    )
  }

  it.effect("a server that takes the grouping still gets it: one round trip per message", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
      yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => i), (i) => SmtpClient.send(message(i)), {
        concurrency: 8
      }).pipe(Effect.provide(client(server.script, 1)))
      expect(server.received).toHaveLength(50)
      expect(server.pipelinedAfterBody()).toBeGreaterThan(40)
      expect(server.refusedAfterData()).toBe(0)
    }))
})
