import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { effectProp, fc } from "@effect-smtp/test-utils/property"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { countingClient } from "./utils/servers.js"

/**
 * RFC 5322 §2.1.1: a line is at most 998 octets. Servers fold longer lines
 * (breaking signatures) or refuse the message; the client refuses to send one
 * unless told to, before any byte is written when the body is known, and
 * without the end of the message when a stream turns out to hold one.
 */

const encoder = new TextEncoder()

const setup = () => countingClient(["PIPELINING", "8BITMIME"])

const body = (lines: ReadonlyArray<number>) =>
  "Subject: long\r\n\r\n" + lines.map((n) => "x".repeat(n)).join("\r\n") + "\r\n"

describe("lines over 998 octets", () => {
  effectProp(
    "property: a known body is refused before connecting iff some line is over 998 octets, and the error names the first such line",
    [fc.array(fc.integer({ min: 0, max: 1100 }), { minLength: 1, maxLength: 6 })],
    ([lengths]) =>
      Effect.gen(function*() {
        const { layer, connections, server } = setup()
        const exit = yield* Effect.result(
          SmtpClient.send({ from: "a@example.com", to: ["b@example.com"], content: body(lengths) }).pipe(
            Effect.provide(layer)
          )
        )
        const first = lengths.findIndex((n) => n > 998)
        if (first === -1) {
          expect(exit._tag).toBe("Success")
          expect(server.received).toHaveLength(1)
          return
        }
        expect(exit._tag).toBe("Failure")
        if (exit._tag !== "Failure") return
        const error = exit.failure
        expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
        // The subject and the blank line come first.
        expect(error.message).toContain(`line ${first + 3} is ${lengths[first]} octets long`)
        expect(error.message).toContain("quoted-printable or base64")
        // Known before any byte: this one may say so.
        expect(error.message).toContain("Nothing was sent")
        expect(connections()).toBe(0)
      }),
    { fastCheck: { numRuns: 40 } }
  )

  it.effect("a line of exactly 998 octets is sent, 999 is not", () =>
    Effect.gen(function*() {
      const ok = setup()
      yield* SmtpClient.send({ from: "a@example.com", to: ["b@example.com"], content: body([998]) }).pipe(
        Effect.provide(ok.layer)
      )
      expect(ok.server.received).toHaveLength(1)
      const bad = setup()
      const error = yield* Effect.flip(
        SmtpClient.send({ from: "a@example.com", to: ["b@example.com"], content: body([999]) }).pipe(
          Effect.provide(bad.layer)
        )
      )
      expect(error._tag).toBe("InvalidInputError")
    }))

  it.effect("allowLongLines: true sends such a line as it is", () =>
    Effect.gen(function*() {
      const { layer, server } = setup()
      const content = body([5000])
      yield* SmtpClient.send({ from: "a@example.com", to: ["b@example.com"], content, allowLongLines: true }).pipe(
        Effect.provide(layer)
      )
      expect(new TextDecoder().decode(server.received[0].data)).toBe(content)
    }))

  for (const capabilities of [["PIPELINING"], ["PIPELINING", "CHUNKING"]]) {
    it.effect(
      `a streamed body (${
        capabilities.includes("CHUNKING") ? "BDAT" : "DATA"
      }) with a long line fails with the same error, and the server never gets the end of the message`,
      () =>
        Effect.gen(function*() {
          const server = TestSocket.smtpServer({ capabilities })
          const layer = scriptedClient(server.script, { host: "mail.test", port: 25, security: "none" })
          // The long line is split across chunks, after a first chunk that is fine.
          const content = Stream.fromIterable([
            encoder.encode("Subject: s\r\n\r\nshort line\r\n" + "y".repeat(600)),
            encoder.encode("y".repeat(600) + "\r\nmore\r\n")
          ])
          const error = yield* Effect.flip(
            SmtpClient.send({ from: "a@example.com", to: ["b@example.com"], content }).pipe(Effect.provide(layer))
          )
          expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
          expect(error.message).toContain("line 4 is longer than 998 octets")
          // Its start was streamed: the message must not claim that nothing was sent.
          expect(error.message).not.toContain("Nothing was sent")
          expect(error.message).toContain("never the final dot")
          expect(error._tag === "InvalidInputError" && error.foundWhileStreaming).toBe(true)
          expect(server.received).toHaveLength(0)
          // No QUIT: the connection was closed without ending the message.
          expect(server.commands).not.toContain("QUIT")
        })
    )
  }
})
