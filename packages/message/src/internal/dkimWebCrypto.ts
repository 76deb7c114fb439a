import { sha256 } from "@noble/hashes/sha2.js"
import * as Effect from "effect/Effect"
import type * as Dkim from "../Dkim.js"
import type * as DkimCrypto from "../DkimCrypto.js"
import { DkimCryptoError } from "../DkimError.js"
import { fromBase64 } from "./bytes.js"

/**
 * The Web Crypto subset used here, declared so that the package compiles
 * without DOM or Node type definitions.
 */
interface Subtle {
  readonly importKey: (
    format: "pkcs8" | "jwk",
    data: Uint8Array | JsonWebKey,
    algorithm: KeyAlgorithm,
    extractable: boolean,
    usages: ReadonlyArray<string>
  ) => Promise<CryptoKeyLike>
  readonly exportKey: (format: "jwk" | "spki", key: CryptoKeyLike) => Promise<JsonWebKey | ArrayBuffer>
  readonly sign: (algorithm: KeyAlgorithm, key: CryptoKeyLike, data: Uint8Array) => Promise<ArrayBuffer>
}

interface KeyAlgorithm {
  readonly name: string
  readonly hash?: string
}

interface CryptoKeyLike {
  readonly algorithm: { readonly name: string; readonly modulusLength?: number }
}

interface JsonWebKey {
  readonly kty?: string
  readonly n?: string
  readonly e?: string
  readonly x?: string
}

const subtle = (): Subtle | undefined =>
  (globalThis as unknown as { readonly crypto?: { readonly subtle?: Subtle } }).crypto?.subtle

const algorithms: Record<Dkim.Algorithm, KeyAlgorithm> = {
  "rsa-sha256": { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  "ed25519-sha256": { name: "Ed25519" }
}

const describe = (error: unknown): string => error instanceof Error ? `${error.name}: ${error.message}` : String(error)

/** Web Crypto throws NotSupportedError for an algorithm it does not implement. */
const isUnsupported = (error: unknown): boolean =>
  error instanceof Error && (error.name === "NotSupportedError" || /not supported|unrecognized/i.test(error.message))

const run = <A>(
  operation: DkimCryptoError["operation"],
  algorithm: Dkim.Algorithm,
  body: (subtle: Subtle) => Promise<A>
): Effect.Effect<A, DkimCryptoError> =>
  Effect.suspend(() => {
    const api = subtle()
    if (api === undefined) {
      return Effect.fail(
        new DkimCryptoError({
          operation,
          unsupported: true,
          detail: "globalThis.crypto.subtle (Web Crypto) is missing"
        })
      )
    }
    return Effect.tryPromise({
      try: () => body(api),
      catch: (error) =>
        new DkimCryptoError({
          operation,
          unsupported: isUnsupported(error),
          detail: `Web Crypto refused ${algorithm}: ${describe(error)}`
        })
    })
  })

const sha256Of = (data: Uint8Array): Uint8Array => sha256(data)

const importKey = (algorithm: Dkim.Algorithm, pkcs8: Uint8Array) =>
  run("importKey", algorithm, async (api): Promise<DkimCrypto.SigningKey> => {
    const key = await api.importKey("pkcs8", pkcs8, algorithms[algorithm], false, ["sign"])
    const bits = algorithm === "rsa-sha256" ? key.algorithm.modulusLength ?? 0 : 256
    return {
      bits,
      sign: (data) =>
        run("sign", algorithm, async (api) =>
          new Uint8Array(
            // RFC 8463 §3: Ed25519 signs the SHA-256 digest; RSASSA hashes the data itself.
            await api.sign(algorithms[algorithm], key, algorithm === "ed25519-sha256" ? sha256Of(data) : data)
          ))
    }
  })

/**
 * JWK is the one format Web Crypto exports both key types' public halves
 * from a private key in: RSA's modulus and exponent go back in as a public
 * JWK and out as SPKI; Ed25519's `x` is the raw public key.
 */
const publicKey = (algorithm: Dkim.Algorithm, pkcs8: Uint8Array) =>
  run("publicKey", algorithm, async (api) => {
    const key = await api.importKey("pkcs8", pkcs8, algorithms[algorithm], true, ["sign"])
    const jwk = (await api.exportKey("jwk", key)) as JsonWebKey
    if (algorithm === "ed25519-sha256") {
      const raw = jwk.x === undefined ? undefined : fromBase64(jwk.x)
      if (raw === undefined) throw new Error("the exported key has no public part")
      return raw
    }
    const pub = await api.importKey(
      "jwk",
      { kty: "RSA", n: jwk.n, e: jwk.e } as JsonWebKey,
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      true,
      ["verify"]
    )
    return new Uint8Array((await api.exportKey("spki", pub)) as ArrayBuffer)
  })

/** @internal */
export const webCrypto: DkimCrypto.Service = {
  sha256: () => {
    const hash = sha256.create()
    return {
      update: (data) => {
        hash.update(data)
      },
      digest: () => hash.digest()
    }
  },
  importKey,
  publicKey
}
