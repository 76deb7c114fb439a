/**
 * Private keys as people have them, turned into the PKCS#8 that Web Crypto
 * imports: PEM or DER PKCS#8 ("BEGIN PRIVATE KEY", RSA or Ed25519), PKCS#1
 * ("BEGIN RSA PRIVATE KEY", what `openssl genrsa` and `opendkim-genkey`
 * write), and a raw 32-byte Ed25519 seed in base64 (what RFC 8463's examples
 * and dkimpy's `dknewkey` use). Only the structure is read here: no key
 * material ever reaches an error message.
 */
import * as Bytes from "effect/Bytes"
import type * as Dkim from "../Dkim.js"
import type { KeyProblem } from "../DkimError.js"
import { equalBytes, fromBase64 } from "./bytes.js"

/** @internal */
export type KeyMaterial =
  | { readonly _tag: "Key"; readonly algorithm: Dkim.Algorithm; readonly pkcs8: Uint8Array }
  | { readonly _tag: "Problem"; readonly reason: KeyProblem; readonly detail: string }

const problem = (reason: KeyProblem, detail: string): KeyMaterial => ({ _tag: "Problem", reason, detail })

// ---------------------------------------------------------------------------
// Just enough DER (X.690) to tell the key formats apart
// ---------------------------------------------------------------------------

interface Element {
  readonly tag: number
  /** Where the contents start and end. */
  readonly start: number
  readonly end: number
}

const readElement = (der: Uint8Array, at: number): Element | undefined => {
  if (at + 2 > der.length) return undefined
  const tag = der[at]
  let length = der[at + 1]
  let start = at + 2
  if (length & 0x80) {
    const octets = length & 0x7f
    if (octets === 0 || octets > 4 || start + octets > der.length) return undefined
    length = 0
    for (let i = 0; i < octets; i++) length = length * 256 + der[start + i]
    start += octets
  }
  const end = start + length
  return end > der.length ? undefined : { tag, start, end }
}

/** The elements inside a constructed element, or `undefined` when they do not fill it exactly. */
const children = (der: Uint8Array, parent: Element): Array<Element> | undefined => {
  const items: Array<Element> = []
  for (let at = parent.start; at < parent.end;) {
    const item = readElement(der, at)
    if (item === undefined || item.end > parent.end) return undefined
    items.push(item)
    at = item.end
  }
  return items
}

/** The elements of a SEQUENCE, or `undefined` when `der` is not one whole SEQUENCE. */
const sequence = (der: Uint8Array): Array<Element> | undefined => {
  const outer = readElement(der, 0)
  return outer === undefined || outer.tag !== 0x30 || outer.end !== der.length ? undefined : children(der, outer)
}

const INTEGER = 0x02
const OCTET_STRING = 0x04
const OID = 0x06
const SEQUENCE = 0x30

/** 1.2.840.113549.1.1.1 and 1.3.101.112 */
const rsaEncryption = new Uint8Array([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01])
const ed25519 = new Uint8Array([0x2b, 0x65, 0x70])

const encodeLength = (length: number): Uint8Array => {
  if (length < 0x80) return new Uint8Array([length])
  const octets: Array<number> = []
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n & 0xff)
  return new Uint8Array([0x80 | octets.length, ...octets])
}

const element = (tag: number, ...contents: ReadonlyArray<Uint8Array>): Uint8Array => {
  const body = Bytes.concat(contents)
  return Bytes.concat([new Uint8Array([tag]), encodeLength(body.length), body])
}

/** PKCS#8 PrivateKeyInfo (RFC 5208): version 0, the algorithm, the key. */
const privateKeyInfo = (algorithm: Uint8Array, key: Uint8Array): Uint8Array =>
  element(SEQUENCE, new Uint8Array([INTEGER, 1, 0]), algorithm, element(OCTET_STRING, key))

const rsaAlgorithm = element(SEQUENCE, element(OID, rsaEncryption), new Uint8Array([0x05, 0x00]))
const ed25519Algorithm = element(SEQUENCE, element(OID, ed25519))

/** RFC 8410 §7: the seed, itself an OCTET STRING inside the key's. */
const fromEd25519Seed = (seed: Uint8Array): Uint8Array => privateKeyInfo(ed25519Algorithm, element(OCTET_STRING, seed))

/** A DER key: PKCS#8 (either type) or PKCS#1 RSAPrivateKey (nine INTEGERs). */
const fromDer = (der: Uint8Array): KeyMaterial => {
  const items = sequence(der)
  if (items === undefined || items.length < 3 || items[0].tag !== INTEGER) {
    return problem("Unreadable", "it is not a PKCS#8 or PKCS#1 private key")
  }
  if (items[1].tag === INTEGER) {
    if (items.length < 9) return problem("Unreadable", "it looks like PKCS#1 but is not an RSA private key")
    return { _tag: "Key", algorithm: "rsa-sha256", pkcs8: privateKeyInfo(rsaAlgorithm, der) }
  }
  const oid = items[1].tag === SEQUENCE ? children(der, items[1])?.[0] : undefined
  if (oid === undefined || oid.tag !== OID || items[2].tag !== OCTET_STRING) {
    return problem("Unreadable", "it is not a PKCS#8 or PKCS#1 private key")
  }
  const id = der.subarray(oid.start, oid.end)
  if (equalBytes(id, rsaEncryption)) return { _tag: "Key", algorithm: "rsa-sha256", pkcs8: der }
  if (equalBytes(id, ed25519)) return { _tag: "Key", algorithm: "ed25519-sha256", pkcs8: der }
  return problem("UnsupportedType", "it is neither an RSA nor an Ed25519 key (DKIM signs with those two only)")
}

// ---------------------------------------------------------------------------
// PEM, base64 and raw keys
// ---------------------------------------------------------------------------

const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g

const fromPem = (text: string): KeyMaterial => {
  const blocks = [...text.matchAll(pemBlock)]
  const block = blocks.find((b) => b[1].includes("PRIVATE KEY")) ?? blocks[0]
  if (block === undefined) return problem("Unreadable", "its PEM armour is damaged (no matching BEGIN and END lines)")
  const label = block[1]
  const body = block[2]
  if (label === "ENCRYPTED PRIVATE KEY" || /Proc-Type:\s*4,\s*ENCRYPTED/.test(body)) {
    return problem(
      "Encrypted",
      "it is encrypted with a password: decrypt it first (openssl pkcs8 -topk8 -nocrypt -in key.pem -out plain.pem)"
    )
  }
  if (label.includes("PUBLIC KEY") || label === "CERTIFICATE") {
    return problem("PublicKey", `it is a ${label}: give the private key; the public key goes in DNS`)
  }
  if (label === "OPENSSH PRIVATE KEY") {
    return problem("Unreadable", "it is in OpenSSH's format: convert it (ssh-keygen -p -m PKCS8 -f key)")
  }
  if (label !== "PRIVATE KEY" && label !== "RSA PRIVATE KEY") {
    return problem("UnsupportedType", `it is a ${label} (DKIM signs with RSA or Ed25519 keys only)`)
  }
  const der = fromBase64(body.replace(/^[A-Za-z-]+:.*$/gm, ""))
  return der === undefined ? problem("Unreadable", "the base64 inside its PEM armour is damaged") : fromDer(der)
}

const fromBytes = (bytes: Uint8Array): KeyMaterial =>
  bytes.length === 32
    ? { _tag: "Key", algorithm: "ed25519-sha256", pkcs8: fromEd25519Seed(bytes) }
    : fromDer(bytes)

const startsWithPem = (bytes: Uint8Array): boolean =>
  bytes.length > 11 && String.fromCharCode(...bytes.subarray(0, 11)) === "-----BEGIN "

/**
 * Reads a private key and checks it against the algorithm asked for, if any.
 *
 * @internal
 */
export const readKey = (key: string | Uint8Array, algorithm: Dkim.Algorithm | undefined): KeyMaterial => {
  const text = typeof key === "string" ? key : startsWithPem(key) ? new TextDecoder().decode(key) : undefined
  let material: KeyMaterial
  if (text === undefined) material = fromBytes(key as Uint8Array)
  else if (text.includes("-----BEGIN ")) material = fromPem(text)
  else {
    const bytes = fromBase64(text)
    material = bytes === undefined || bytes.length === 0
      ? problem("Unreadable", "it is neither PEM (-----BEGIN PRIVATE KEY-----) nor base64")
      : fromBytes(bytes)
  }
  if (material._tag === "Key" && algorithm !== undefined && material.algorithm !== algorithm) {
    return problem(
      "WrongAlgorithm",
      `it is ${material.algorithm === "rsa-sha256" ? "an RSA" : "an Ed25519"} key, but the algorithm is ${algorithm}`
    )
  }
  return material
}
