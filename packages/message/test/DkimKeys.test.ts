/**
 * Private keys as people have them (PEM or DER, PKCS#8 or PKCS#1, Ed25519
 * seeds), the typed errors for the ones that cannot sign, the DNS record of
 * a key, and the DkimCrypto service boundary.
 */
import { Dkim, DkimCrypto, DkimError } from "@effect-smtp/message"
import { assert, describe, expect, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/testing/TestClock"
import { generateKeyPairSync, type KeyObject } from "node:crypto"
import { inspect } from "node:util"
import { ed25519Key, layer as verifiersLayer, rsaKey, type TestKey, Verifiers } from "./utils/verifiers.js"

const DOMAIN = "example.test"
const rsa = rsaKey(DOMAIN, "rsa")
const ed = ed25519Key(DOMAIN, "ed")

const message = "From: sender@example.test\r\nTo: rcpt@example.test\r\nSubject: keys\r\n\r\nbody\r\n"

const withKey = (privateKey: string | Uint8Array, more: Partial<Dkim.Options> = {}, key: TestKey = rsa) => ({
  domain: key.domain,
  selector: key.selector,
  privateKey: Redacted.make(privateKey),
  ...more
})

/** The Ed25519 seed: the JWK's `d`. */
const seedOf = (privateKey: KeyObject): Uint8Array =>
  Buffer.from(privateKey.export({ format: "jwk" }).d ?? "", "base64url")

/** Long runs of a PEM's base64: none may appear in an error or a printed signer. */
const secretPieces = (pem: string): Array<string> =>
  pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "").match(/.{24}/g) ?? []

const expectNoSecret = (shown: string, pem: string) => {
  for (const piece of secretPieces(pem)) expect(shown).not.toContain(piece)
}

layer(verifiersLayer, { timeout: 120_000 })("key formats, checked by real verifiers", (it) => {
  const formats: ReadonlyArray<readonly [string, string | Uint8Array, TestKey]> = [
    ["RSA, PKCS#8 PEM", rsa.pem, rsa],
    [
      "RSA, PKCS#1 PEM (openssl genrsa, opendkim-genkey)",
      rsa.privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
      rsa
    ],
    ["RSA, PKCS#8 DER bytes", new Uint8Array(rsa.privateKey.export({ type: "pkcs8", format: "der" })), rsa],
    ["RSA, PKCS#1 DER in base64", rsa.privateKey.export({ type: "pkcs1", format: "der" }).toString("base64"), rsa],
    ["RSA, PKCS#8 PEM as bytes", new TextEncoder().encode(rsa.pem), rsa],
    ["Ed25519, PKCS#8 PEM", ed.pem, ed],
    ["Ed25519, PKCS#8 DER bytes", new Uint8Array(ed.privateKey.export({ type: "pkcs8", format: "der" })), ed],
    [
      "Ed25519, 32-byte seed in base64 (RFC 8463, dkimpy's dknewkey)",
      Buffer.from(seedOf(ed.privateKey)).toString("base64"),
      ed
    ],
    ["Ed25519, 32-byte seed", seedOf(ed.privateKey), ed]
  ]
  for (const [name, privateKey, key] of formats) {
    it.effect(`${name}: signs, and every verifier accepts`, () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.now())
        const signer = yield* Dkim.make(withKey(privateKey, {}, key))
        expect(signer.algorithm).toBe(key.algorithm)
        expect(signer.bits).toBe(key.algorithm === "rsa-sha256" ? 2048 : 256)
        const signed = yield* Dkim.sign({ content: message }, signer)
        const verdicts = yield* (yield* Verifiers).verify(signed.content, [rsa, ed])
        for (const [verifier, results] of Object.entries(verdicts)) {
          expect(results.map((r) => r.ok), `${verifier}: ${JSON.stringify(results)}`).toEqual([true])
        }
      }))
  }
})

describe("keys that cannot sign", () => {
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey
  const small = generateKeyPairSync("rsa", { modulusLength: 512 }).privateKey
  // PKCS#8 of rsaEncryption around something that is no RSA key.
  const broken = new Uint8Array(Buffer.concat([
    Buffer.from("301a020100300d06092a864886f70d01010105000406", "hex"),
    Buffer.from("broken")
  ]))
  const publicPem = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey
    .export({ type: "spki", format: "pem" }).toString()
  const cases: ReadonlyArray<
    readonly [string, string | Uint8Array, Partial<Dkim.Options>, DkimError.KeyProblem, RegExp]
  > = [
    [
      "a password-protected PKCS#8 key",
      rsa.privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "secret" }).toString(),
      {},
      "Encrypted",
      /decrypt it first/
    ],
    [
      "a password-protected PKCS#1 key",
      rsa.privateKey.export({ type: "pkcs1", format: "pem", cipher: "aes-256-cbc", passphrase: "secret" }).toString(),
      {},
      "Encrypted",
      /decrypt it first/
    ],
    [
      "a public key",
      publicPem,
      {},
      "PublicKey",
      /the public key goes in DNS/
    ],
    [
      "an EC key (PKCS#8)",
      ec.export({ type: "pkcs8", format: "pem" }).toString(),
      {},
      "UnsupportedType",
      /RSA nor an Ed25519/
    ],
    [
      "an EC key (SEC 1)",
      ec.export({ type: "sec1", format: "pem" }).toString(),
      {},
      "UnsupportedType",
      /EC PRIVATE KEY/
    ],
    ["text that is no key", "hello, world", {}, "Unreadable", /neither PEM .* nor base64/],
    [
      "damaged PEM armour",
      "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
      {},
      "Unreadable",
      /armour/
    ],
    ["bytes that are no key", new Uint8Array(40).fill(7), {}, "Unreadable", /PKCS#8 or PKCS#1/],
    ["an RSA key for ed25519-sha256", rsa.pem, { algorithm: "ed25519-sha256" }, "WrongAlgorithm", /an RSA key/],
    ["an Ed25519 key for rsa-sha256", ed.pem, { algorithm: "rsa-sha256" }, "WrongAlgorithm", /an Ed25519 key/],
    [
      "a 512-bit RSA key",
      small.export({ type: "pkcs8", format: "pem" }).toString(),
      {},
      "TooShort",
      /512-bit.*RFC 8301/
    ],
    ["PKCS#8 around no RSA key", broken, {}, "Rejected", /Web Crypto refused/]
  ]
  for (const [name, privateKey, more, reason, detail] of cases) {
    it.effect(`${name}: DkimKeyError ${reason}, naming the key's DNS name and never its material`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Dkim.make(withKey(privateKey, more)))
        assert(error instanceof DkimError.DkimKeyError, String(error))
        expect(error.reason).toBe(reason)
        expect(error.detail).toMatch(detail)
        expect(error.message).toContain("rsa._domainkey.example.test")
        expect(error.message).toContain("Nothing was sent")
        if (typeof privateKey === "string") expectNoSecret(`${error.message} ${JSON.stringify(error)}`, privateKey)
      }))
  }

  it.effect("a key must be Redacted: a plain string is InvalidInputError, before it is read", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Dkim.make({ ...withKey(rsa.pem), privateKey: rsa.pem as unknown as Redacted.Redacted<string> })
      )
      assert(error._tag === "InvalidInputError")
      expect(error.field).toBe("dkim.privateKey")
      expectNoSecret(error.message, rsa.pem)
    }))

  it.effect("rsa-sha1 is DkimUnsupportedError: RFC 8301 forbids signing with it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Dkim.make(withKey(rsa.pem, { algorithm: "rsa-sha1" as unknown as Dkim.Algorithm }))
      )
      assert(error instanceof DkimError.DkimUnsupportedError)
      expect(error.algorithm).toBe("rsa-sha1")
      expect(error.message).toMatch(/RFC 8301/)
    }))

  it.effect("without Web Crypto (globalThis.crypto.subtle), signing is DkimUnsupportedError", () =>
    Effect.gen(function*() {
      const original = Object.getOwnPropertyDescriptor(globalThis, "crypto")
      assert(original !== undefined)
      const error = yield* Effect.acquireUseRelease(
        Effect.sync(() => Object.defineProperty(globalThis, "crypto", { value: undefined, configurable: true })),
        () => Effect.flip(Dkim.make(withKey(ed.pem, {}, ed))),
        () => Effect.sync(() => Object.defineProperty(globalThis, "crypto", original))
      )
      assert(error instanceof DkimError.DkimUnsupportedError)
      expect(error.algorithm).toBe("ed25519-sha256")
      expect(error.message).toMatch(/Web Crypto\) is missing.*provide a DkimCrypto service/)
    }))
})

describe("Dkim.dnsRecord", () => {
  for (const key of [rsa, ed]) {
    it.effect(`${key.algorithm}: the record to publish is the one node:crypto derives from the key`, () =>
      Effect.gen(function*() {
        expect(yield* Dkim.dnsRecord(withKey(key.pem, {}, key))).toBe(key.record)
        const signer = yield* Dkim.make(withKey(key.pem, {}, key))
        expect(yield* Dkim.dnsRecord(signer)).toBe(key.record)
      }))
  }
})

describe("DkimCrypto", () => {
  it.effect("signing goes through the DkimCrypto in context: its hashes and its keys", () =>
    Effect.gen(function*() {
      const used = { hashes: 0, imports: 0, signatures: 0 }
      const counting: DkimCrypto.Service = {
        sha256: () => {
          used.hashes++
          return DkimCrypto.webCrypto.sha256()
        },
        importKey: (algorithm, pkcs8) =>
          Effect.map(DkimCrypto.webCrypto.importKey(algorithm, pkcs8), (key) => {
            used.imports++
            return {
              bits: key.bits,
              sign: (data) => Effect.tap(key.sign(data), () => Effect.sync(() => used.signatures++))
            }
          }),
        publicKey: DkimCrypto.webCrypto.publicKey
      }
      yield* Dkim.sign({ content: message }, [
        withKey(rsa.pem),
        withKey(ed.pem, { canonicalization: "simple/simple" }, ed),
        withKey(ed.pem, { canonicalization: "simple/simple" }, ed)
      ]).pipe(Effect.provide(Layer.succeed(DkimCrypto.DkimCrypto, counting)))
      // One body hash per body canonicalisation, however many signatures use it.
      expect(used).toEqual({ hashes: 2, imports: 3, signatures: 3 })
    }))

  it.effect("a service without Ed25519 makes DkimUnsupportedError; one that refuses to sign, DkimKeyError", () =>
    Effect.gen(function*() {
      const refusing = (unsupported: boolean): DkimCrypto.Service => ({
        ...DkimCrypto.webCrypto,
        importKey: (algorithm, pkcs8) =>
          algorithm === "ed25519-sha256" && unsupported
            ? Effect.fail(
              new DkimError.DkimCryptoError({ operation: "importKey", unsupported: true, detail: "no Ed25519 here" })
            )
            : Effect.map(DkimCrypto.webCrypto.importKey(algorithm, pkcs8), (key) => ({
              bits: key.bits,
              sign: () =>
                Effect.fail(
                  new DkimError.DkimCryptoError({ operation: "sign", unsupported: false, detail: "HSM offline" })
                )
            }))
      })
      const unsupported = yield* Effect.flip(
        Dkim.make(withKey(ed.pem, {}, ed)).pipe(Effect.provideService(DkimCrypto.DkimCrypto, refusing(true)))
      )
      assert(unsupported instanceof DkimError.DkimUnsupportedError)
      expect(unsupported.detail).toBe("no Ed25519 here")
      const refused = yield* Effect.flip(
        Dkim.sign({ content: message }, withKey(rsa.pem)).pipe(
          Effect.provideService(DkimCrypto.DkimCrypto, refusing(false))
        )
      )
      assert(refused instanceof DkimError.DkimKeyError)
      expect(refused.reason).toBe("Rejected")
      expect(refused.detail).toBe("HSM offline")
    }))

  it.effect("a signer shows its domain, selector and algorithm, never its key", () =>
    Effect.gen(function*() {
      const signer = yield* Dkim.make(withKey(ed.pem, {}, ed))
      for (const shown of [JSON.stringify(signer), inspect(signer, { depth: 10 }), String(signer)]) {
        expectNoSecret(shown, ed.pem)
        expectNoSecret(shown, Buffer.from(seedOf(ed.privateKey)).toString("base64"))
      }
      expect(JSON.parse(JSON.stringify(signer))).toEqual({
        _id: "Dkim.Signer",
        domain: "example.test",
        selector: "ed",
        algorithm: "ed25519-sha256",
        canonicalization: "relaxed/relaxed",
        bits: 256
      })
    }))
})
