/**
 * DKIM signing (RFC 6376), with rsa-sha256 and ed25519-sha256 (RFC 8463).
 *
 * A signature covers the body's hash, and the DKIM-Signature field goes in
 * the header, which comes first on the wire: the body must be known in full
 * before the message can start. So signing reads the content once to hash
 * it, with the header fields held and the body hashed as it passes (bounded
 * memory, whatever its size), and the signed message reads it again as it is
 * sent. A message up to 1 MiB is kept from the first read instead, and read
 * once. The second read is checked against the first as it streams: content
 * that changed in between (a file rewritten, a stream that cannot run twice)
 * fails with `DkimContentError` before the end of the message, so the
 * server never completes it.
 *
 * ```ts
 * import { SmtpClient } from "@effect-smtp/client"
 * import { Dkim, MailMessage } from "@effect-smtp/message"
 * import * as Effect from "effect/Effect"
 * import * as Redacted from "effect/Redacted"
 *
 * declare const pem: string // -----BEGIN PRIVATE KEY----- ...
 *
 * export const program = Effect.gen(function*() {
 *   // Imports the key once, for many messages.
 *   const signer = yield* Dkim.make({ domain: "example.com", selector: "s2025", privateKey: Redacted.make(pem) })
 *   const message = yield* MailMessage.compose({
 *     from: "news@example.com",
 *     to: "alice@example.org",
 *     subject: "Hello",
 *     text: "Hi!",
 *     dkim: signer
 *   })
 *   return yield* SmtpClient.send(message)
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { SmtpError } from "@effect-smtp/client"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type * as Stream from "effect/Stream"
import type { DkimContentError, DkimError, DkimKeyError, DkimUnsupportedError } from "./DkimError.js"
import * as internal from "./internal/dkim.js"
import * as options from "./internal/dkimOptions.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The signing algorithm. rsa-sha256 is verified everywhere; ed25519-sha256
 * is shorter and faster, but not every receiver verifies it yet, so sign
 * with both (two signers) to use it.
 *
 * @since 0.1.0
 * @category models
 */
export type Algorithm = "rsa-sha256" | "ed25519-sha256"

/**
 * Header canonicalisation / body canonicalisation. "relaxed" survives the
 * re-folding and white-space changes that relays make; "simple" breaks on
 * them.
 *
 * @since 0.1.0
 * @category models
 */
export type Canonicalization = "relaxed/relaxed" | "simple/simple" | "relaxed/simple" | "simple/relaxed"

/**
 * How to sign.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The signing domain (`d=`), in ASCII (A-labels for an IDN). */
  readonly domain: string
  /** The selector (`s=`): the public key is at `<selector>._domainkey.<domain>`. */
  readonly selector: string
  /**
   * The private key: PEM or DER, PKCS#8 (`BEGIN PRIVATE KEY`, RSA or
   * Ed25519) or PKCS#1 (`BEGIN RSA PRIVATE KEY`), or an Ed25519 32-byte
   * seed, raw or in base64.
   */
  readonly privateKey: Redacted.Redacted<string | Uint8Array>
  /** Defaults to the key's: rsa-sha256 for an RSA key, ed25519-sha256 for an Ed25519 one. */
  readonly algorithm?: Algorithm | undefined
  /** Defaults to "relaxed/relaxed". */
  readonly canonicalization?: Canonicalization | undefined
  /**
   * The header fields to sign, when present: `defaultHeaders` unless given.
   * From, List-Unsubscribe and List-Unsubscribe-Post are always signed.
   */
  readonly headers?: ReadonlyArray<string> | undefined
  /**
   * Fields signed once more than they occur, so that none can be added
   * without breaking the signature: `defaultOversign` unless given; `[]`
   * for none.
   */
  readonly oversign?: ReadonlyArray<string> | undefined
  /**
   * Adds `l=`, the length of the signed body, so that text appended later
   * (a mailing list's footer) does not break the signature. Anyone can then
   * append anything: leave it off unless a list needs it.
   */
  readonly bodyLength?: boolean | undefined
  /** The agent or user identifier (`i=`): `user@domain` or `@domain`, at the domain or a subdomain of it. */
  readonly identity?: string | undefined
  /** Adds `x=`: receivers stop accepting the signature this long after signing. */
  readonly expiresIn?: Duration.Input | undefined
}

/**
 * A signer whose key is imported and whose options are checked: make it once
 * and sign many messages with it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Signer {
  readonly [TypeId]: TypeId
  readonly domain: string
  readonly selector: string
  readonly algorithm: Algorithm
  readonly canonicalization: Canonicalization
  /** The key's size: the RSA modulus length, or 256 for Ed25519. */
  readonly bits: number
}

/**
 * One signature or several (an RSA and an Ed25519 one, say), each as options
 * or a ready signer.
 *
 * @since 0.1.0
 * @category models
 */
export type SignWith = Options | Signer | ReadonlyArray<Options | Signer>

/**
 * The header fields signed when present (RFC 6376 §5.4.1's list, with RFC
 * 8058's List-Unsubscribe-Post).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultHeaders: ReadonlyArray<string> = options.defaultHeaders

/**
 * The header fields over-signed by default: those a forger would most like
 * to add a second copy of.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultOversign: ReadonlyArray<string> = options.defaultOversign

/**
 * Checks the options and imports the key.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options: Options
) => Effect.Effect<Signer, SmtpError.InvalidInputError | DkimKeyError | DkimUnsupportedError> = internal.make

/**
 * What can be signed: anything with the RFC 5322 message as `content`, such
 * as a `Mail` or a composed message.
 *
 * @since 0.1.0
 * @category models
 */
export interface Signable<E = never> {
  readonly content: string | Uint8Array | Stream.Stream<Uint8Array, E>
}

/**
 * The failure of a message's content stream.
 *
 * @since 0.1.0
 * @category models
 */
export type ContentError<M> = M extends { readonly content: infer C } ?
  C extends Stream.Stream<infer _A, infer E, infer _R> ? E : never
  : never

/**
 * A signed message: the same fields, its content with the DKIM-Signature
 * fields first and its line breaks normalised to CRLF. Content in memory
 * stays in memory; a stream stays a stream, which also fails with
 * `DkimContentError` if it reads differently from when it was signed.
 *
 * @since 0.1.0
 * @category models
 */
export type Signed<M extends Signable<unknown>> = {
  readonly [K in keyof M]: K extends "content" ? SignedContent<M[K], ContentError<M>> : M[K]
}

/**
 * Signed content: bytes for bytes or text, a stream for a stream (and either
 * for content that may be either).
 *
 * @since 0.1.0
 * @category models
 */
export type SignedContent<C, E> = C extends string | Uint8Array ? Uint8Array
  : Stream.Stream<Uint8Array, E | DkimContentError>

/**
 * Signs a message: reads its content once (hashing the body as it passes),
 * and returns the message with the DKIM-Signature fields prepended. Several
 * signers add one signature each. The signature time (`t=`) is the `Clock`'s.
 *
 * @since 0.1.0
 * @category signing
 */
export const sign: {
  (
    signWith: SignWith
  ): <M extends Signable<unknown>>(
    message: M
  ) => Effect.Effect<Signed<M>, ContentError<M> | DkimError | SmtpError.InvalidInputError>
  <M extends Signable<unknown>>(
    message: M,
    signWith: SignWith
  ): Effect.Effect<Signed<M>, ContentError<M> | DkimError | SmtpError.InvalidInputError>
} = internal.sign

/**
 * The DNS TXT record to publish at `<selector>._domainkey.<domain>` for a
 * signer's key, e.g. `v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=`.
 * An RSA record is longer than 255 octets: most DNS tools split it into
 * several strings of one TXT record themselves.
 *
 * @since 0.1.0
 * @category keys
 */
export const dnsRecord: (
  key: Options | Signer
) => Effect.Effect<string, SmtpError.InvalidInputError | DkimKeyError | DkimUnsupportedError> = internal.dnsRecord
