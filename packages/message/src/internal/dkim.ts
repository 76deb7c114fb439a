import { SmtpError } from "@effect-smtp/client"
import * as Bytes from "effect/Bytes"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type * as Dkim from "../Dkim.js"
import { DkimCrypto, type Service, type SigningKey } from "../DkimCrypto.js"
import { DkimContentError, type DkimCryptoError, DkimKeyError, DkimUnsupportedError } from "../DkimError.js"
import { equalBytes, fromBinaryString, toBase64, toBinaryString } from "./bytes.js"
import { canonicalHeader, type Canonicalization } from "./dkimCanonical.js"
import { countFields, parseFields, selectFields } from "./dkimFields.js"
import { signedField, unsignedField } from "./dkimHeader.js"
import { readKey } from "./dkimKey.js"
import { type Checked, checkOptions } from "./dkimOptions.js"
import { type Scanned, scanner } from "./dkimScan.js"

/** @internal */
export const TypeId: Dkim.TypeId = Symbol.for("@effect-smtp/message/Dkim/Signer") as Dkim.TypeId

/** A message up to this size is kept from the signing read and not read again. */
const keepUpTo = 1024 * 1024

// ---------------------------------------------------------------------------
// Keys and signers
// ---------------------------------------------------------------------------

class SignerImpl implements Dkim.Signer {
  readonly [TypeId]: Dkim.TypeId = TypeId
  readonly domain: string
  readonly selector: string
  readonly canonicalization: Dkim.Canonicalization
  constructor(
    readonly checked: Checked,
    readonly algorithm: Dkim.Algorithm,
    readonly bits: number,
    readonly key: SigningKey,
    readonly privateKey: Redacted.Redacted<string | Uint8Array>
  ) {
    this.domain = checked.domain
    this.selector = checked.selector
    this.canonicalization = `${checked.header}/${checked.body}` as Dkim.Canonicalization
  }
  toJSON() {
    return {
      _id: "Dkim.Signer",
      domain: this.domain,
      selector: this.selector,
      algorithm: this.algorithm,
      canonicalization: this.canonicalization,
      bits: this.bits
    }
  }
}

const isSigner = (u: unknown): u is SignerImpl => Predicate.hasProperty(u, TypeId)

const supported: ReadonlyArray<string> = ["rsa-sha256", "ed25519-sha256"]

const keyError = (checked: Checked, reason: DkimKeyError["reason"], detail: string) =>
  new DkimKeyError({ domain: checked.domain, selector: checked.selector, reason, detail })

const fromCrypto = (checked: Checked, algorithm: Dkim.Algorithm) => (error: DkimCryptoError) =>
  error.unsupported
    ? new DkimUnsupportedError({ algorithm, detail: error.detail })
    : keyError(checked, "Rejected", error.detail)

/** The key's PKCS#8 form and algorithm, checked against the options. */
const keyMaterial = (field: string, checked: Checked, options: Dkim.Options) =>
  Effect.gen(function*() {
    if (options.algorithm !== undefined && !supported.includes(options.algorithm)) {
      return yield* new DkimUnsupportedError({
        algorithm: String(options.algorithm),
        detail: "DKIM signers use rsa-sha256 or ed25519-sha256 (RFC 8301 forbids signing with rsa-sha1)"
      })
    }
    if (!Redacted.isRedacted(options.privateKey)) {
      return yield* new SmtpError.InvalidInputError({
        field: `${field}.privateKey`,
        reason: "must be a Redacted value (Redacted.make(pem)), so that it never reaches a log"
      })
    }
    const material = readKey(Redacted.value(options.privateKey), options.algorithm)
    if (material._tag === "Problem") return yield* keyError(checked, material.reason, material.detail)
    return material
  })

const makeAt = (field: string) => (options: Dkim.Options) =>
  Effect.gen(function*() {
    const checked = yield* Effect.fromResult(checkOptions(field, options))
    const material = yield* keyMaterial(field, checked, options)
    const crypto = yield* DkimCrypto
    const key = yield* Effect.mapError(
      crypto.importKey(material.algorithm, material.pkcs8),
      fromCrypto(checked, material.algorithm)
    )
    if (material.algorithm === "rsa-sha256" && key.bits < 1024) {
      return yield* keyError(
        checked,
        "TooShort",
        `it is a ${key.bits}-bit RSA key; receivers ignore signatures by keys under 1024 bits (RFC 8301 §3.2): use 2048`
      )
    }
    return new SignerImpl(checked, material.algorithm, key.bits, key, options.privateKey)
  })

/** @internal */
export const make = (options: Dkim.Options): Effect.Effect<
  Dkim.Signer,
  SmtpError.InvalidInputError | DkimKeyError | DkimUnsupportedError
> => makeAt("dkim")(options)

/**
 * The signers for `signWith`; options are checked and their keys imported.
 * `field` names them in errors (the composer's `dkim` option, say).
 *
 * @internal
 */
export const signers = (
  field: string,
  signWith: Dkim.SignWith
): Effect.Effect<ReadonlyArray<SignerImpl>, SmtpError.InvalidInputError | DkimKeyError | DkimUnsupportedError> => {
  const list: ReadonlyArray<Dkim.Options | Dkim.Signer> = Array.isArray(signWith)
    ? signWith
    : [signWith as Dkim.Options]
  if (list.length === 0) {
    return Effect.fail(
      new SmtpError.InvalidInputError({ field, reason: "is an empty list: give at least one signer, or leave it out" })
    )
  }
  return Effect.forEach(list, (item, i) => {
    if (isSigner(item)) return Effect.succeed(item)
    return makeAt(list === signWith ? `${field}[${i}]` : field)(item as Dkim.Options)
  })
}

/** @internal */
export const dnsRecord = (key: Dkim.Options | Dkim.Signer) =>
  Effect.gen(function*() {
    const options: Dkim.Options = isSigner(key)
      ? { domain: key.domain, selector: key.selector, privateKey: key.privateKey, algorithm: key.algorithm }
      : key as Dkim.Options
    const checked = yield* Effect.fromResult(checkOptions("dkim", options))
    const material = yield* keyMaterial("dkim", checked, options)
    const crypto = yield* DkimCrypto
    const publicKey = yield* Effect.mapError(
      crypto.publicKey(material.algorithm, material.pkcs8),
      fromCrypto(checked, material.algorithm)
    )
    return `v=DKIM1; k=${material.algorithm === "rsa-sha256" ? "rsa" : "ed25519"}; p=${toBase64(publicKey)}`
  })

// ---------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------

/** The DKIM-Signature fields for a scanned message, in the order of `list`. */
const signatureFields = (list: ReadonlyArray<SignerImpl>, scanned: Scanned) =>
  Effect.gen(function*() {
    const fields = parseFields(toBinaryString(scanned.header))
    const froms = countFields(fields, "from")
    if (froms === 0) return yield* new DkimContentError({ reason: "NoFrom", detail: "no From field" })
    if (froms > 1) return yield* new DkimContentError({ reason: "SeveralFrom", detail: String(froms) })
    const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const out: Array<string> = []
    for (const signer of list) {
      const { checked } = signer
      const names = checked.headers.flatMap((name) => {
        const count = countFields(fields, name) + (checked.oversign.has(name) ? 1 : 0)
        return Array.from({ length: count }, () => name)
      })
      // Each instance canonicalised; an over-signed one past the last hashes as nothing.
      const data = selectFields(fields, names).map((f) => f === undefined ? "" : canonicalHeader(checked.header, f.raw))
      const body = scanned.bodies.get(checked.body)
      if (body === undefined) return yield* Effect.die(new Error(`no ${checked.body} body hash: bodyModes missed it`))
      const unsigned = unsignedField({
        algorithm: signer.algorithm,
        canonicalization: signer.canonicalization,
        domain: checked.domain,
        selector: checked.selector,
        timestamp: now,
        expiration: checked.expiresInSeconds === undefined ? undefined : now + checked.expiresInSeconds,
        identity: checked.identity,
        bodyLength: checked.bodyLength ? body.length : undefined,
        headers: names,
        bodyHash: toBase64(body.hash)
      })
      // The signature's own field last, without its CRLF (RFC 6376 §3.7).
      data.push(canonicalHeader(checked.header, unsigned).slice(0, -2))
      const signature = yield* Effect.mapError(
        signer.key.sign(fromBinaryString(data.join(""))),
        fromCrypto(checked, signer.algorithm)
      )
      out.push(signedField(unsigned, toBase64(signature)))
    }
    return fromBinaryString(out.join(""))
  })

const bodyModes = (list: ReadonlyArray<SignerImpl>): Array<Canonicalization> => [
  ...new Set(list.map((s) => s.checked.body))
]

/** How a second read differs from the signed one, or `undefined` when it does not. */
const difference = (signed: Scanned, now: Scanned): string | undefined => {
  if (!equalBytes(signed.header, now.header)) return "its header fields differ"
  for (const [mode, body] of signed.bodies) {
    const again = now.bodies.get(mode)
    if (again === undefined || body.length !== again.length) {
      return `its ${mode} body is ${again?.length} octets, ${body.length} when signed`
    }
    if (!equalBytes(body.hash, again.hash)) return `its ${mode} body hash differs`
  }
  return undefined
}

const utf8 = new TextEncoder()

/**
 * The second read of a large message, after its signatures: each chunk
 * normalised as in the first read and checked against it; a difference fails
 * the stream before its last bytes.
 */
const reread = <E>(
  content: Stream.Stream<Uint8Array, E>,
  signed: Scanned,
  crypto: Service,
  modes: ReadonlyArray<Canonicalization>
): Stream.Stream<Uint8Array, E | DkimContentError> =>
  Stream.suspend(() => {
    const scan = scanner({ bodyModes: modes, sha256: crypto.sha256, keepUpTo: 0 })
    const checked = Effect.suspend(() => {
      const end = scan.end()
      if (end instanceof DkimContentError) return Effect.fail(end)
      const [tail, now] = end
      const differs = difference(signed, now)
      return differs === undefined
        ? Effect.succeed(tail)
        : Effect.fail(new DkimContentError({ reason: "Changed", detail: differs }))
    })
    return content.pipe(
      // A batch the scanner holds back entirely emits nothing, rather than empty chunks.
      Stream.mapAccumArrayEffect(() => scan, (scan, chunks) => {
        const out: Array<Uint8Array> = []
        for (const chunk of chunks) {
          const normalised = scan.write(chunk)
          if (normalised instanceof DkimContentError) return Effect.fail(normalised)
          if (normalised.length > 0) out.push(normalised)
        }
        return Effect.succeed([scan, out] as const)
      }),
      Stream.concat(Stream.filter(Stream.fromEffect(checked), (tail) => tail.length > 0))
    )
  })

const failed = (error: DkimContentError | readonly [Uint8Array, Scanned]): error is DkimContentError =>
  error instanceof DkimContentError

/** @internal */
export interface SignedContent<E> {
  readonly content: Uint8Array | Stream.Stream<Uint8Array, E | DkimContentError>
  /** Its length in octets. */
  readonly size: number
}

/**
 * The content signed by `list`: bytes for bytes, a stream for a stream.
 *
 * @internal
 */
export const signContent = <E>(
  content: string | Uint8Array | Stream.Stream<Uint8Array, E>,
  list: ReadonlyArray<SignerImpl>
): Effect.Effect<SignedContent<E>, E | DkimContentError | DkimKeyError | DkimUnsupportedError> =>
  Effect.gen(function*() {
    const crypto = yield* DkimCrypto
    const modes = bodyModes(list)
    const inMemory = typeof content === "string" || content instanceof Uint8Array
    const scan = scanner({ bodyModes: modes, sha256: crypto.sha256, keepUpTo: inMemory ? Infinity : keepUpTo })
    const write = (chunk: Uint8Array) => {
      const written = scan.write(chunk)
      return written instanceof DkimContentError ? Effect.fail(written) : Effect.void
    }
    if (inMemory) yield* write(typeof content === "string" ? utf8.encode(content) : content)
    else {
      yield* Stream.runForEachArray(content, (chunks) => Effect.forEach(chunks, write, { discard: true }))
    }
    const end = scan.end()
    if (failed(end)) return yield* end
    const scanned = end[1]
    const prefix = yield* signatureFields(list, scanned)
    const size = prefix.length + scanned.octets
    if (scanned.kept !== undefined) {
      const bytes = Bytes.concat([prefix, scanned.kept])
      return { content: inMemory ? bytes : Stream.succeed(bytes), size }
    }
    return {
      content: Stream.concat(
        Stream.succeed(prefix),
        reread(content as Stream.Stream<Uint8Array, E>, scanned, crypto, modes)
      ),
      size
    }
  })

/** @internal */
export const sign = dual(
  2,
  <M extends Dkim.Signable<unknown>>(message: M, signWith: Dkim.SignWith) =>
    Effect.gen(function*() {
      const list = yield* signers("dkim", signWith)
      const signed = yield* signContent(message.content as Dkim.Signable<Dkim.ContentError<M>>["content"], list)
      // A declared SIZE must grow with the signatures.
      const size = "size" in message && message.size !== undefined ? { size: signed.size } : {}
      return { ...message, content: signed.content, ...size } as unknown as Dkim.Signed<M>
    })
) as typeof Dkim.sign
