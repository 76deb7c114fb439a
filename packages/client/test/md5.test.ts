/**
 * CRAM-MD5's digest (HMAC-MD5 from @noble/hashes) against the published
 * vectors: the RFC 1321 test suite for MD5, RFC 2104's (and RFC 2202's)
 * HMAC-MD5 cases, and RFC 2195's CRAM-MD5 example through the SASL exchange.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { hmacMd5, md5, toHex } from "../src/internal/md5.js"
import * as Sasl from "../src/internal/sasl.js"

const text = (s: string) => new TextEncoder().encode(s)
const repeat = (byte: number, n: number) => new Uint8Array(n).fill(byte)

describe("MD5 (RFC 1321, appendix A.5 test suite)", () => {
  const suite: ReadonlyArray<readonly [string, string]> = [
    ["", "d41d8cd98f00b204e9800998ecf8427e"],
    ["a", "0cc175b9c0f1b6a831c399e269772661"],
    ["abc", "900150983cd24fb0d6963f7d28e17f72"],
    ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
    ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
    ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"],
    [
      "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
      "57edf4a22be3c955ac49da2e2107b67a"
    ]
  ]
  for (const [input, digest] of suite) {
    it(`MD5(${JSON.stringify(input)}) = ${digest}`, () => {
      expect(toHex(md5(text(input)))).toBe(digest)
    })
  }
})

describe("HMAC-MD5 (RFC 2104 appendix, RFC 2202 section 2)", () => {
  const cases: ReadonlyArray<
    { readonly name: string; readonly key: Uint8Array; readonly data: Uint8Array; readonly digest: string }
  > = [
    { name: "RFC 2104 #1", key: repeat(0x0b, 16), data: text("Hi There"), digest: "9294727a3638bb1c13f48ef8158bfc9d" },
    {
      name: "RFC 2104 #2",
      key: text("Jefe"),
      data: text("what do ya want for nothing?"),
      digest: "750c783e6ab0b503eaa86e310a5db738"
    },
    { name: "RFC 2104 #3", key: repeat(0xaa, 16), data: repeat(0xdd, 50), digest: "56be34521d144c88dbb8c733f0e8b3f6" },
    {
      name: "RFC 2202 #4",
      key: Uint8Array.from({ length: 25 }, (_, i) => i + 1),
      data: repeat(0xcd, 50),
      digest: "697eaf0aca3a3aea3a75164746ffaa79"
    },
    {
      name: "RFC 2202 #6 (a key longer than the block)",
      key: repeat(0xaa, 80),
      data: text("Test Using Larger Than Block-Size Key - Hash Key First"),
      digest: "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"
    },
    {
      name: "RFC 2202 #7",
      key: repeat(0xaa, 80),
      data: text("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"),
      digest: "6f630fad67cda0ee1fb1f562db3aa53e"
    }
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.digest}`, () => {
      expect(toHex(hmacMd5(c.key, c.data))).toBe(c.digest)
    })
  }
})

describe("CRAM-MD5 (RFC 2195 section 2, the example exchange)", () => {
  it("answers <1896.697170952@postoffice.reston.mci.net> as tim with b913a602c7eda7a495b4e6e7334d3890", () => {
    const started = Sasl.start(
      "CRAM-MD5",
      { user: "tim", password: Redacted.make("tanstaaftanstaaf") },
      { host: "postoffice.reston.mci.net", port: 25, offered: ["CRAM-MD5"], channelBinding: undefined }
    )
    if (Result.isFailure(started)) throw started.failure
    const exchange = started.success
    expect(exchange.initialResponse).toBeUndefined()
    const challenge = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
    const answer = Effect.runSync(exchange.respond(challenge))
    expect(atob(answer)).toBe("tim b913a602c7eda7a495b4e6e7334d3890")
    expect(answer).toBe("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw")
  })
})
