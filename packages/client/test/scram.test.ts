/**
 * SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677) and SASLprep (RFC 4013):
 * the RFCs' test vectors, the server's proof checked in every way it can be
 * missing or wrong, and the exchange inside a session (choice over PLAIN, "*"
 * on a failed proof, the check after 235) against a scripted server.
 */
import { SmtpProtocol, type Socket } from "@effect-smtp/client"
import { resolveTimeouts } from "@effect-smtp/client/SmtpProtocol"
import { fc, prop } from "@effect-smtp/test-utils/property"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import { hmac } from "@noble/hashes/hmac.js"
import { pbkdf2 } from "@noble/hashes/pbkdf2.js"
import { sha256 } from "@noble/hashes/sha2.js"
import * as Effect from "effect/Effect"
import * as Base64 from "effect/encoding/Base64"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as sasl from "../src/internal/sasl.js"
import { saslprep } from "../src/internal/saslprep.js"
import * as scram from "../src/internal/scram.js"

const b64 = (text: string) => Base64.encode(text)
const unb64 = (text: string) => Result.getOrThrow(Base64.decodeString(text))

// RFC 5802 §5 (SHA-1) and RFC 7677 §3 (SHA-256): user "user", password "pencil".
const vectors = [
  {
    mechanism: "SCRAM-SHA-1",
    nonce: "fyko+d2lbbFgONRv9qkxdawL",
    clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
    serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="
  },
  {
    mechanism: "SCRAM-SHA-256",
    nonce: "rOprNGfwEbeRWgbNEkqO",
    clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    clientFinal:
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
  }
] as const

const exchangeFor = (
  vector: (typeof vectors)[number],
  extra: Partial<scram.ScramOptions> = {}
) =>
  scram.start({
    mechanism: vector.mechanism,
    user: "user",
    password: "pencil",
    nonce: vector.nonce,
    serverOffersPlus: false,
    ...extra
  })

describe("SCRAM test vectors", () => {
  for (const vector of vectors) {
    it.effect(`${vector.mechanism}: RFC ${vector.mechanism === "SCRAM-SHA-1" ? "5802" : "7677"}'s exchange`, () =>
      Effect.gen(function*() {
        const exchange = exchangeFor(vector)
        expect(exchange.clientFirst).toBe(vector.clientFirst)
        expect(yield* exchange.respond(vector.serverFirst)).toBe(vector.clientFinal)
        expect(yield* exchange.respond(vector.serverFinal)).toBe("")
        expect(exchange.complete("2.7.0 Authentication successful")).toBeUndefined()
      }))
  }
})

describe("the server's proof", () => {
  const vector = vectors[1]

  it.effect("a wrong server signature is ServerUnverified", () =>
    Effect.gen(function*() {
      const exchange = exchangeFor(vector)
      yield* exchange.respond(vector.serverFirst)
      const error = yield* Effect.flip(exchange.respond(`v=${b64("x".repeat(32))}`))
      expect(error.reason).toBe("ServerUnverified")
      expect(error.retryable).toBe(false)
      expect(error.message).toContain("could not prove it knows the password")
      // Still unverified after a 235 that follows.
      expect(exchange.complete("2.7.0 ok")?.reason).toBe("ServerUnverified")
    }))

  it.effect("a 235 straight after the client's proof, without the server's, is ServerUnverified", () =>
    Effect.gen(function*() {
      const exchange = exchangeFor(vector)
      yield* exchange.respond(vector.serverFirst)
      expect(exchange.complete("2.7.0 Authentication successful")?.reason).toBe("ServerUnverified")
    }))

  it.effect("the server's final message inside the 235 text is verified", () =>
    Effect.gen(function*() {
      const good = exchangeFor(vector)
      yield* good.respond(vector.serverFirst)
      expect(good.complete(b64(vector.serverFinal))).toBeUndefined()
      const bad = exchangeFor(vector)
      yield* bad.respond(vector.serverFirst)
      expect(bad.complete(b64(`v=${b64("y".repeat(32))}`))?.reason).toBe("ServerUnverified")
    }))

  it.effect("e= in the server's final message is Rejected with the server's reason", () =>
    Effect.gen(function*() {
      const exchange = exchangeFor(vector)
      yield* exchange.respond(vector.serverFirst)
      const error = yield* Effect.flip(exchange.respond("e=invalid-proof"))
      expect(error.reason).toBe("Rejected")
      expect(error.serverMessage).toBe("e=invalid-proof")
    }))

  const failsWith = (serverFirst: string) =>
    Effect.map(Effect.flip(exchangeFor(vector).respond(serverFirst)), (error) => [error.reason, error.message])

  it.effect("a server-first the client must refuse is MechanismFailed: nonce, salt, iterations, extensions", () =>
    Effect.gen(function*() {
      const [reason, message] = yield* failsWith("r=someoneElsesNonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
      expect(reason).toBe("MechanismFailed")
      expect(message).toContain("nonce")
      expect((yield* failsWith(`r=${vector.nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`))[1]).toContain("nonce")
      expect((yield* failsWith(`r=${vector.nonce}abc,s=,i=4096`))[1]).toContain("salt")
      expect((yield* failsWith(`r=${vector.nonce}abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000`))[1]).toContain(
        "4096 to 1000000"
      )
      expect((yield* failsWith(`r=${vector.nonce}abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999`))[0]).toBe(
        "MechanismFailed"
      )
      expect((yield* failsWith(`m=ext,r=${vector.nonce}abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`))[1]).toContain(
        "extension"
      )
    }))
})

describe("channel binding flags", () => {
  const binding = { type: "tls-exporter" as const, data: Uint8Array.from({ length: 32 }, (_, i) => i) }

  it.effect("-PLUS sends p=tls-exporter and the binding data in c=", () =>
    Effect.gen(function*() {
      const exchange = exchangeFor(vectors[1], { mechanism: "SCRAM-SHA-256-PLUS", channelBinding: binding })
      expect(exchange.clientFirst).toBe("p=tls-exporter,,n=user,r=rOprNGfwEbeRWgbNEkqO")
      const final = yield* exchange.respond(vectors[1].serverFirst)
      const c = /^c=([^,]+),/.exec(final)![1]!
      const bound = Result.getOrThrow(Base64.decode(c))
      expect(Array.from(bound)).toEqual([...new TextEncoder().encode("p=tls-exporter,,"), ...binding.data])
    }))

  it("a client that could bind, to a server that offers no -PLUS, says y; otherwise n", () => {
    expect(exchangeFor(vectors[1], { channelBinding: binding }).clientFirst.startsWith("y,,")).toBe(true)
    expect(exchangeFor(vectors[1], { channelBinding: binding, serverOffersPlus: true }).clientFirst.startsWith("n,,"))
      .toBe(true)
    expect(exchangeFor(vectors[1]).clientFirst.startsWith("n,,")).toBe(true)
  })

  it("a user name's = and , are escaped", () => {
    expect(exchangeFor(vectors[1], { user: "a=b,c" }).clientFirst).toBe("n,,n=a=3Db=2Cc,r=rOprNGfwEbeRWgbNEkqO")
  })
})

describe("SASLprep (RFC 4013)", () => {
  it.each([
    ["I\u00adX", "IX", "soft hyphen mapped to nothing"],
    ["user", "user", "no transformation"],
    ["USER", "USER", "case preserved"],
    ["\u00aa", "a", "NFKC"],
    ["\u2168", "IX", "NFKC"],
    ["a\u00a0b\u3000c", "a b c", "non-ASCII spaces mapped to SPACE"],
    ["\u0627\u0031\u0628", "\u0627\u0031\u0628", "right-to-left with a digit inside"]
  ])("%j becomes %j (%s)", (input, output) => {
    expect(saslprep(input)).toEqual(Result.succeed(output))
  })

  it.each([
    ["\u0007", "prohibited character"],
    ["a\ue000", "prohibited character"],
    ["a\ud800", "prohibited character"],
    ["\u0627\u0031", "mixed or misplaced right-to-left text"],
    ["\u0627a\u0628", "mixed or misplaced right-to-left text"]
  ])("%j is refused: %s", (input, reason) => {
    expect(saslprep(input)).toEqual(Result.fail(reason))
  })

  prop(
    "prepping is idempotent: a prepped string preps to itself",
    [fc.string({ unit: "grapheme" })],
    ([s]) => {
      const once = saslprep(s)
      if (Result.isSuccess(once)) expect(saslprep(once.success)).toEqual(once)
    }
  )

  prop(
    "printable ASCII is left as it is",
    [fc.string({ unit: fc.constantFrom(..." ~abcXYZ019=,@") })],
    ([
      s
    ]) => {
      expect(saslprep(s)).toEqual(Result.succeed(s))
    }
  )
})

describe("SCRAM in a session", () => {
  const salt = Uint8Array.from({ length: 16 }, (_, i) => i * 7)
  const password = "correct horse"

  /**
   * A scripted server offering `offer`; its SCRAM-SHA-256 side uses the
   * password above (with @noble/hashes, as a server would). `final` decides
   * how it ends the exchange.
   */
  const scriptedServer = (
    offer: string,
    final: "334" | "235-with-proof" | "no-proof" | "wrong-proof",
    seen: Array<string>
  ) =>
    TestSocket.layer((server) =>
      Effect.gen(function*() {
        yield* server.send("220 mail.test ESMTP\r\n")
        seen.push(yield* server.readLine)
        yield* server.send(`250-mail.test\r\n250 AUTH ${offer}\r\n`)
        const auth = yield* server.readLine
        seen.push(auth.split(" ").slice(0, 2).join(" "))
        if (!auth.startsWith("AUTH SCRAM-SHA-256 ")) {
          yield* server.send("235 2.7.0 ok\r\n")
          seen.push(yield* server.readLine)
          return yield* server.send("221 bye\r\n")
        }
        const clientFirst = unb64(auth.split(" ")[2]!)
        const clientFirstBare = clientFirst.slice(3)
        const serverFirst = `${clientFirstBare.split("r=")[1]}SERVER,s=${Base64.encode(salt)},i=4096`
          .replace(/^/, "r=")
        yield* server.send(`334 ${b64(serverFirst)}\r\n`)
        const clientFinal = unb64(yield* server.readLine)
        const withoutProof = clientFinal.slice(0, clientFinal.indexOf(",p="))
        const salted = pbkdf2(sha256, password, salt, { c: 4096, dkLen: 32 })
        const serverKey = hmac(sha256, salted, new TextEncoder().encode("Server Key"))
        const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`
        const signature = hmac(sha256, serverKey, new TextEncoder().encode(authMessage))
        const verifier = `v=${Base64.encode(final === "wrong-proof" ? signature.map((b) => b ^ 1) : signature)}`
        if (final === "334" || final === "wrong-proof") {
          yield* server.send(`334 ${b64(verifier)}\r\n`)
          const answer = yield* server.readLine
          seen.push(answer === "" ? "<empty>" : answer)
          if (answer === "*") yield* server.send("501 5.7.0 cancelled\r\n")
          else yield* server.send("235 2.7.0 ok\r\n")
        } else {
          yield* server.send(`235 ${final === "235-with-proof" ? b64(verifier) : "2.7.0 ok"}\r\n`)
        }
        seen.push(yield* server.readLine)
        yield* server.send("221 bye\r\n")
      })
    )

  const authenticate = (layer: Layer.Layer<Socket>, mechanism?: "PLAIN") =>
    Effect.scoped(
      Effect.gen(function*() {
        const protocol = yield* SmtpProtocol
        const session = yield* protocol.connect({
          host: "mail.test",
          port: 587,
          security: "none",
          timeouts: resolveTimeouts()
        })
        yield* session.authenticate({ user: "alice", password: Redacted.make(password), mechanism })
      })
    ).pipe(Effect.provide(SmtpProtocol.layer.pipe(Layer.provide(layer))))

  it.effect("SCRAM-SHA-256 is chosen over PLAIN, and the server's proof in a 334 is answered with an empty line", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      yield* authenticate(scriptedServer("PLAIN SCRAM-SHA-256", "334", seen))
      expect(seen.slice(0, 3)).toEqual(["EHLO [127.0.0.1]", "AUTH SCRAM-SHA-256", "<empty>"])
    }))

  it.effect("the server's proof in the 235 is accepted", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      yield* authenticate(scriptedServer("SCRAM-SHA-256", "235-with-proof", seen))
      expect(seen.slice(0, 2)).toEqual(["EHLO [127.0.0.1]", "AUTH SCRAM-SHA-256"])
    }))

  it.effect("a wrong proof: the client cancels with * and fails with ServerUnverified", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const error = yield* Effect.flip(authenticate(scriptedServer("SCRAM-SHA-256", "wrong-proof", seen)))
      expect(error._tag).toBe("AuthenticationError")
      if (error._tag === "AuthenticationError") expect(error.reason).toBe("ServerUnverified")
      expect(seen.slice(0, 3)).toEqual(["EHLO [127.0.0.1]", "AUTH SCRAM-SHA-256", "*"])
    }))

  it.effect("a 235 without the server's proof fails with ServerUnverified", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(authenticate(scriptedServer("SCRAM-SHA-256", "no-proof", [])))
      expect(error._tag === "AuthenticationError" && error.reason).toBe("ServerUnverified")
    }))

  it.effect("an explicit mechanism still wins", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      yield* authenticate(scriptedServer("SCRAM-SHA-256 PLAIN", "334", seen), "PLAIN")
      expect(seen[1]).toBe("AUTH PLAIN")
    }))

  it("-PLUS is chosen only with a channel binding", () => {
    const credentials = { user: "u", password: Redacted.make("p") }
    const offered = ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN"]
    expect(sasl.choose(credentials, offered, false)).toEqual(Result.succeed("SCRAM-SHA-256"))
    expect(sasl.choose(credentials, offered, true)).toEqual(Result.succeed("SCRAM-SHA-256-PLUS"))
    expect(sasl.choose(credentials, ["SCRAM-SHA-1", "CRAM-MD5", "PLAIN"], false)).toEqual(Result.succeed("SCRAM-SHA-1"))
  })

  it("a password SASLprep refuses is InvalidInputError, never quoting it", () => {
    const started = sasl.start("SCRAM-SHA-256", { user: "u", password: Redacted.make("sec\u0007ret") }, {
      host: "h",
      port: 25
    })
    const error = Result.flip(started).pipe(Result.getOrThrow)
    expect(error.field).toBe("auth.password")
    expect(error.message).not.toContain("sec")
  })
})
