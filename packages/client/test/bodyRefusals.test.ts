import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { effectProp, fc } from "@effect-smtp/test-utils/property"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { countingClient } from "./utils/servers.js"

/**
 * The bodies a client must refuse: NUL anywhere (RFC 5322 §3.5, RFC 2045
 * §2.7-2.8), 8-bit octets to a server without 8BITMIME (RFC 6152), and a
 * streamed body that passes the server's SIZE (RFC 1870). A known body is
 * refused before MAIL; a stream as soon as the offence is seen, without the
 * end of the message, so the server stores nothing.
 */

const encoder = new TextEncoder()

/** A stream of `chunks`, counting how many the client pulled. */
const counted = (chunks: ReadonlyArray<Uint8Array>) => {
  let pulled = 0
  const stream = Stream.fromIterable(chunks).pipe(Stream.tap(() =>
    Effect.sync(() => {
      pulled++
    })
  ))
  return { stream, pulled: () => pulled }
}

const mail = (content: string | Uint8Array | Stream.Stream<Uint8Array>) => ({
  from: "a@example.com",
  to: ["b@example.com"],
  content
})

const variants = [
  { name: "DATA", capabilities: ["PIPELINING", "8BITMIME", "SIZE 1000"] },
  { name: "BDAT", capabilities: ["PIPELINING", "8BITMIME", "CHUNKING", "SIZE 1000"] }
] as const

describe("NUL octets", () => {
  for (const form of ["string", "bytes"] as const) {
    it.effect(`a ${form} body with NUL is refused before connecting, naming its offset`, () =>
      Effect.gen(function*() {
        const { layer, connections } = countingClient(["PIPELINING", "8BITMIME"])
        const text = "Subject: n\r\n\r\nab\u0000c\r\n"
        const error = yield* Effect.flip(
          SmtpClient.send(mail(form === "string" ? text : encoder.encode(text))).pipe(Effect.provide(layer))
        )
        expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
        expect(error.message).toContain("NUL octet (at octet 16)")
        expect(connections()).toBe(0)
      }))
  }

  for (const { name, capabilities } of variants) {
    it.effect(`a streamed body (${name}) is cut at its first NUL, without the end of the message`, () =>
      Effect.gen(function*() {
        const { layer, server } = countingClient(capabilities)
        const body = counted([
          encoder.encode("Subject: n\r\n\r\nfine\r\n"),
          encoder.encode("more\r\n"),
          Uint8Array.of(0x61, 0x00, 0x62),
          encoder.encode("never pulled\r\n")
        ])
        const error = yield* Effect.flip(SmtpClient.send(mail(body.stream)).pipe(Effect.provide(layer)))
        expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
        expect(error.message).toContain("NUL octet (at octet 27)")
        expect(body.pulled()).toBe(3)
        expect(server.received).toHaveLength(0)
        expect(server.commands).not.toContain("QUIT")
      }))
  }
})

describe("8-bit bodies", () => {
  const text = "Subject: g\r\n\r\ngrüße\r\n"
  for (const form of ["string", "bytes"] as const) {
    it.effect(`a ${form} 8-bit body to a server without 8BITMIME is refused before MAIL, and says to encode it`, () =>
      Effect.gen(function*() {
        const { layer, server } = countingClient(["PIPELINING", "SMTPUTF8"])
        const error = yield* Effect.flip(
          SmtpClient.send(mail(form === "string" ? text : encoder.encode(text))).pipe(Effect.provide(layer))
        )
        expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
        expect(error.message).toContain("8-bit octets (the first at octet 16)")
        expect(error.message).toContain("does not offer 8BITMIME")
        expect(error.message).toContain("quoted-printable or base64")
        expect(server.commands.some((c) => c.startsWith("MAIL"))).toBe(false)
      }))
  }

  it.effect("the same body to a server with 8BITMIME goes, declared BODY=8BITMIME", () =>
    Effect.gen(function*() {
      const { layer, server } = countingClient(["PIPELINING", "8BITMIME"])
      yield* SmtpClient.send(mail(text)).pipe(Effect.provide(layer))
      expect(server.received).toHaveLength(1)
      expect(server.commands.find((c) => c.startsWith("MAIL"))).toContain("BODY=8BITMIME")
    }))

  for (const capabilities of [["PIPELINING"], ["PIPELINING", "CHUNKING"]]) {
    it.effect(`a streamed 8-bit body (${capabilities.join(" ")}) without 8BITMIME is cut at its first 8-bit octet`, () =>
      Effect.gen(function*() {
        const { layer, server } = countingClient(capabilities)
        const body = counted([
          encoder.encode("Subject: g\r\n\r\nplain\r\n"),
          encoder.encode("grüße\r\n"),
          encoder.encode("never pulled\r\n")
        ])
        const error = yield* Effect.flip(SmtpClient.send(mail(body.stream)).pipe(Effect.provide(layer)))
        expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
        expect(error.message).toContain("8-bit octets (the first at octet 23)")
        expect(body.pulled()).toBe(2)
        expect(server.received).toHaveLength(0)
        expect(server.commands).not.toContain("QUIT")
      }))
  }
})

describe("a streamed body past SIZE", () => {
  for (const { name, capabilities } of variants) {
    it.effect(`(${name}) is cut as soon as it passes the limit, with InvalidInputError naming it`, () =>
      Effect.gen(function*() {
        const { layer, server } = countingClient(capabilities)
        // 100 chunks of 100 octets (98 and CRLF): the limit is passed in the 11th.
        const body = counted(Array.from({ length: 100 }, () => encoder.encode("x".repeat(98) + "\r\n")))
        const error = yield* Effect.flip(SmtpClient.send(mail(body.stream)).pipe(Effect.provide(layer)))
        expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
        expect(error._tag === "InvalidInputError" && error.field).toBe("content")
        expect(error.message).toContain("passed 1000 bytes")
        expect(error.message).toContain("SIZE 1000")
        expect(body.pulled()).toBe(11)
        expect(server.received).toHaveLength(0)
        expect(server.commands).not.toContain("QUIT")
      }))
  }

  effectProp(
    "property: a streamed body is sent iff its canonical size is within SIZE; otherwise nothing is stored",
    [
      fc.array(fc.string({ unit: fc.constantFrom("a", ".", "\r", "\n", "\r\n"), maxLength: 80, size: "max" }), {
        maxLength: 10,
        size: "max"
      }),
      fc.boolean()
    ],
    ([chunks, chunking]) =>
      Effect.gen(function*() {
        const limit = 300
        const { layer, server } = countingClient(["PIPELINING", `SIZE ${limit}`, ...(chunking ? ["CHUNKING"] : [])])
        const bytes = chunks.map((c) => encoder.encode(c))
        const whole = chunks.join("")
        // Canonical: every lone CR or LF becomes CRLF, and the body ends with one.
        const canonical = whole.replace(/\r\n|\r|\n/g, "\r\n")
        const size = canonical.length + (canonical.length === 0 || canonical.endsWith("\r\n") ? 0 : 2)
        const exit = yield* Effect.result(
          SmtpClient.send(mail(Stream.fromIterable(bytes))).pipe(Effect.provide(layer))
        )
        if (size <= limit) {
          expect(exit._tag).toBe("Success")
          expect(server.received).toHaveLength(1)
        } else {
          expect(exit._tag).toBe("Failure")
          expect(exit._tag === "Failure" && exit.failure._tag).toBe("InvalidInputError")
          expect(server.received).toHaveLength(0)
        }
      }),
    { fastCheck: { numRuns: 60 } }
  )

  it.effect("a stream within SIZE is sent whole", () =>
    Effect.gen(function*() {
      const { layer, server } = countingClient(["PIPELINING", "SIZE 1000"])
      const body = Array.from({ length: 10 }, () => encoder.encode("x".repeat(98) + "\r\n"))
      yield* SmtpClient.send(mail(Stream.fromIterable(body))).pipe(Effect.provide(layer))
      expect(server.received).toHaveLength(1)
      expect(server.received[0].data.length).toBe(1000)
    }))
})
