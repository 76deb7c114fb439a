/**
 * The typed failures of DKIM signing, each with a `message` a person can act
 * on. None of them ever holds key material.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * Why a private key cannot be used.
 *
 * - `Unreadable`: not a PEM, DER or base64 key of a kind DKIM signs with
 * - `Encrypted`: a password-protected key
 * - `PublicKey`: a public key where the private one belongs
 * - `UnsupportedType`: a key of another type (EC, DSA, ...)
 * - `WrongAlgorithm`: an RSA key for ed25519-sha256, or the reverse
 * - `TooShort`: an RSA key under 1024 bits (RFC 8301 §3.2)
 * - `Rejected`: the cryptography refused the key
 *
 * @since 0.1.0
 * @category models
 */
export type KeyProblem =
  | "Unreadable"
  | "Encrypted"
  | "PublicKey"
  | "UnsupportedType"
  | "WrongAlgorithm"
  | "TooShort"
  | "Rejected"

/**
 * The private key given for `selector._domainkey.domain` cannot sign.
 * Nothing was sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class DkimKeyError extends Data.TaggedError("DkimKeyError")<{
  readonly domain: string
  readonly selector: string
  readonly reason: KeyProblem
  readonly detail: string
}> {
  /**
   * A bad key stays bad.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `The DKIM private key for ${this.selector}._domainkey.${this.domain} cannot be used: ${this.detail}. Nothing was sent.`
  }
}

/**
 * The platform cannot sign with `algorithm`: no Web Crypto at all, or one
 * without Ed25519 (browsers before 2025, Node before 18.4). Nothing was sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class DkimUnsupportedError extends Data.TaggedError("DkimUnsupportedError")<{
  readonly algorithm: string
  readonly detail: string
}> {
  /**
   * The platform will not change by itself.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `This platform cannot sign DKIM ${this.algorithm}: ${this.detail}. Sign with rsa-sha256, or provide a DkimCrypto service that supports ${this.algorithm}. Nothing was sent.`
  }
}

/**
 * What is wrong with a message that was to be signed.
 *
 * - `NoFrom`: the message has no From field, which DKIM must sign
 * - `SeveralFrom`: more than one From field (RFC 5322 allows one)
 * - `HeaderTooLarge`: the header block is over the limit, or never ends
 * - `Changed`: the content read for sending differs from the content that
 *   was signed: its stream gave other bytes the second time it ran
 *
 * @since 0.1.0
 * @category models
 */
export type ContentProblem = "NoFrom" | "SeveralFrom" | "HeaderTooLarge" | "Changed"

/**
 * The message cannot be signed, or changed after it was. A `Changed`
 * message fails while it is being sent, before its end: the server never
 * gets the final dot (or BDAT LAST) and delivers nothing.
 *
 * @since 0.1.0
 * @category errors
 */
export class DkimContentError extends Data.TaggedError("DkimContentError")<{
  readonly reason: ContentProblem
  readonly detail: string
}> {
  /**
   * Content that cannot be signed stays so; content that changes between two
   * reads must be made stable first.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    switch (this.reason) {
      case "NoFrom":
        return `The message has no From header field, which a DKIM signature must cover (RFC 6376 §5.4): add one. Nothing was sent.`
      case "SeveralFrom":
        return `The message has ${this.detail} From header fields; RFC 5322 allows one, and receivers reject such mail: keep one. Nothing was sent.`
      case "HeaderTooLarge":
        return `The message's header block ${this.detail}: a signer holds the header fields in memory, so they are limited; check that the content is an RFC 5322 message (header fields, an empty line, the body). Nothing was sent.`
      case "Changed":
        return `The message read for sending is not the message that was signed (${this.detail}): its signature would fail, so the message was cut off before its end and not delivered. A signed message is read twice (once to hash its body, once to send it): give content whose stream gives the same bytes every time it runs, e.g. data in memory or a file that does not change while it is sent.`
    }
  }
}

/**
 * A failure of a `DkimCrypto` service. `unsupported` says the platform lacks
 * the algorithm; otherwise the key or the data was refused. Signing reports
 * it as `DkimUnsupportedError` or `DkimKeyError`.
 *
 * @since 0.1.0
 * @category errors
 */
export class DkimCryptoError extends Data.TaggedError("DkimCryptoError")<{
  readonly operation: "importKey" | "sign" | "publicKey"
  readonly unsupported: boolean
  readonly detail: string
}> {
  override get message(): string {
    return `DKIM ${this.operation} failed: ${this.detail}`
  }
}

/**
 * Every failure of DKIM signing.
 *
 * @since 0.1.0
 * @category models
 */
export type DkimError = DkimKeyError | DkimUnsupportedError | DkimContentError
