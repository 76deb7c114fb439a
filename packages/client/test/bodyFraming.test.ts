/**
 * The body through its one framer (issue 21): a streamed body over BDAT goes
 * chunk by chunk, each answered before the next; a streamed body carries the
 * next message's commands ahead behind its end, over DATA and over BDAT.
 */
import { SmtpProtocol } from "@effect-smtp/client"
import { outgoing, resolveTimeouts } from "@effect-smtp/client/SmtpProtocol"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

const session = (server: ReturnType<typeof TestSocket.smtpServer>) =>
  Effect.flatMap(
    SmtpProtocol,
    (protocol) =>
      protocol.connect({ host: "mail.test", port: 25, security: "none", timeouts: resolveTimeouts("10 seconds") })
  ).pipe(
    Effect.provide(SmtpProtocol.layer.pipe(Layer.provide(TestSocket.layer(server.script))))
  )

const encoder = new TextEncoder()
const parts = ["Subject: framed\r\n\r\n", "first part\r\n", "second part\r\n"]
const streamed = () => ({
  from: "a@example.com",
  to: ["b@example.com"],
  content: Stream.fromIterable(parts.map((p) => encoder.encode(p)))
})
const known = (n: number) => ({
  from: "a@example.com",
  to: ["c@example.com"],
  content: `Subject: next ${n}\r\n\r\nbody\r\n`
})

describe("the body framer", () => {
  it.effect("a streamed body over BDAT: one BDAT per chunk, each answered before the next, LAST on the final one", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING", "CHUNKING"] })
      const opened = yield* session(server)
      const result = yield* opened.send(streamed())
      const bdats = server.commands.filter((c) => c.startsWith("BDAT"))
      expect(bdats).toEqual(parts.map((p, i) => `BDAT ${p.length}${i === parts.length - 1 ? " LAST" : ""}`))
      // The final reply, not a chunk's.
      expect(result.response).not.toContain("chunk ok")
      expect(new TextDecoder().decode(server.received[0].data)).toBe(parts.join(""))
      // The session is still in step: the next message goes through.
      const next = yield* opened.send(known(1))
      expect(next.response).not.toContain("chunk ok")
      expect(server.received).toHaveLength(2)
    }))

  for (const capabilities of [["PIPELINING"], ["PIPELINING", "CHUNKING"]]) {
    it.effect(`a streamed body carries the next message's commands ahead (${capabilities.join(", ")})`, () =>
      Effect.gen(function*() {
        const server = TestSocket.smtpServer({ capabilities })
        const opened = yield* session(server)
        // The same Outgoing for both: the session checks that the commands ahead are this message's.
        const second = outgoing(known(2))
        yield* opened.send(streamed(), { pipelineNext: second })
        yield* opened.send(second)
        expect(server.pipelinedAfterBody()).toBe(1)
        expect(server.received.map((m) => m.to)).toEqual([["b@example.com"], ["c@example.com"]])
      }))
  }
})
