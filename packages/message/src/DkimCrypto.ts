/**
 * The cryptography DKIM signing needs, as a service: an incremental SHA-256
 * for the body (hashed as it streams), and a private key that signs. The
 * default needs nothing but the platform: Web Crypto
 * (`globalThis.crypto.subtle`: Node 20+, Deno, Bun, browsers) for the keys
 * and the audited pure-JavaScript SHA-256 of `@noble/hashes` (Web Crypto has
 * no incremental hash). Provide another implementation to hash natively
 * (`node:crypto`'s `createHash` hashed 1.7 GB/s where `@noble/hashes` did
 * 0.19 GB/s, on the machine that builds this project) or to sign with a key
 * held elsewhere (an HSM or a cloud KMS):
 *
 * ```ts
 * import { DkimCrypto } from "@effect-smtp/message"
 * import * as Layer from "effect/Layer"
 *
 * declare const myCrypto: DkimCrypto.Service
 * export const CryptoLive = Layer.succeed(DkimCrypto.DkimCrypto, myCrypto)
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Dkim from "./Dkim.js"
import type { DkimCryptoError } from "./DkimError.js"
import * as internal from "./internal/dkimWebCrypto.js"

/**
 * An incremental SHA-256.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sha256 {
  readonly update: (data: Uint8Array) => void
  /** The 32-byte digest; the hash is not used after this. */
  readonly digest: () => Uint8Array
}

/**
 * A private key, ready to sign.
 *
 * @since 0.1.0
 * @category models
 */
export interface SigningKey {
  /** The RSA modulus length in bits; 256 for Ed25519. */
  readonly bits: number
  /**
   * The DKIM signature of `data` (the canonical header fields): RSASSA-PKCS1-v1_5
   * with SHA-256 for rsa-sha256; for ed25519-sha256, Ed25519 over the SHA-256
   * digest of `data` (RFC 8463 §3).
   */
  readonly sign: (data: Uint8Array) => Effect.Effect<Uint8Array, DkimCryptoError>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly sha256: () => Sha256
  /** Imports a private key given as PKCS#8 (DER) for `algorithm`. */
  readonly importKey: (algorithm: Dkim.Algorithm, pkcs8: Uint8Array) => Effect.Effect<SigningKey, DkimCryptoError>
  /**
   * The public key of a PKCS#8 private key, as DKIM's `p=` carries it:
   * SubjectPublicKeyInfo (DER) for RSA, the 32 raw bytes for Ed25519.
   */
  readonly publicKey: (algorithm: Dkim.Algorithm, pkcs8: Uint8Array) => Effect.Effect<Uint8Array, DkimCryptoError>
}

/**
 * Web Crypto for the keys and `@noble/hashes` for SHA-256: works wherever
 * `globalThis.crypto.subtle` does, Ed25519 included on Node 20, 22 and 24.
 *
 * @since 0.1.0
 * @category implementations
 */
export const webCrypto: Service = internal.webCrypto

/**
 * The service signing uses; `webCrypto` unless another is provided.
 *
 * @since 0.1.0
 * @category tags
 */
export const DkimCrypto: Context.Reference<Service> = Context.Reference<Service>("@effect-smtp/message/DkimCrypto", {
  defaultValue: () => webCrypto
})
