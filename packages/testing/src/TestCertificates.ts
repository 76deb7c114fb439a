/**
 * Certificates for TLS tests, made at test time so none is committed and none
 * expires in a repository: a CA, a server certificate it signed for
 * `localhost` (SAN DNS:localhost, IP:127.0.0.1, IP:::1), and an unrelated
 * self-signed certificate for the same names, which no test trusts.
 *
 * Serve `key`/`cert` (e.g. `MisbehavingServer.make({ tls: { key, cert } })`)
 * and pass `ca` as the client's trusted CA (`tls: { ca }`).
 *
 * @since 0.1.0
 */
import type * as Forge from "node-forge"
import * as Crypto from "node:crypto"
import { createRequire } from "node:module"

// node-forge is CommonJS that adds its namespaces (pki, md) at run time,
// which an ESM import cannot see as named exports: loaded with require.
const forge = createRequire(import.meta.url)("node-forge") as typeof Forge

/**
 * @since 0.1.0
 * @category models
 */
export interface TestCertificates {
  /** The test CA certificate (PEM): the one to trust. */
  readonly ca: string
  /** The server's private key (PEM, PKCS#8). */
  readonly key: string
  /** The server certificate (PEM), signed by `ca`. */
  readonly cert: string
  /** A self-signed key and certificate for the same names, signed by nobody trusted. */
  readonly untrusted: {
    readonly key: string
    readonly cert: string
  }
}

/** Keys come from node:crypto (native, fast); only the certificates need forge. */
const keyPair = () => {
  const pair = Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  return {
    privatePem: pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicPem: pair.publicKey.export({ type: "spki", format: "pem" }).toString()
  }
}

const localhostNames = {
  name: "subjectAltName",
  altNames: [
    { type: 2, value: "localhost" },
    { type: 7, ip: "127.0.0.1" },
    { type: 7, ip: "::1" }
  ]
}

interface Issued {
  readonly key: string
  readonly cert: string
}

const issue = (options: {
  readonly subject: string
  readonly isCa: boolean
  readonly issuer?: { readonly subject: string; readonly privatePem: string } | undefined
}): Issued => {
  const keys = keyPair()
  const certificate = forge.pki.createCertificate()
  certificate.serialNumber = `01${Crypto.randomBytes(8).toString("hex")}`
  certificate.publicKey = forge.pki.publicKeyFromPem(keys.publicPem)
  // Back-dated a little so a slightly skewed clock does not make it "not yet valid".
  const now = Date.now()
  certificate.validity.notBefore = new Date(now - 60 * 60 * 1000)
  certificate.validity.notAfter = new Date(now + 7 * 24 * 60 * 60 * 1000)
  certificate.setSubject([{ name: "commonName", value: options.subject }])
  certificate.setIssuer([{ name: "commonName", value: options.issuer?.subject ?? options.subject }])
  certificate.setExtensions(
    options.isCa
      ? [
        { name: "basicConstraints", cA: true, critical: true },
        { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
        { name: "subjectKeyIdentifier" }
      ]
      : [
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
        { name: "extKeyUsage", serverAuth: true },
        localhostNames
      ]
  )
  const signer = options.issuer?.privatePem ?? keys.privatePem
  // OpenSSL 3 rejects forge's default SHA-1 signatures: sign with SHA-256.
  certificate.sign(forge.pki.privateKeyFromPem(signer), forge.md.sha256.create())
  return { key: keys.privatePem, cert: forge.pki.certificateToPem(certificate) }
}

/**
 * Fresh certificates (three RSA keys: about a second of CPU).
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate = (): TestCertificates => {
  const ca = issue({ subject: "effect-smtp test CA", isCa: true })
  const server = issue({
    subject: "localhost",
    isCa: false,
    issuer: { subject: "effect-smtp test CA", privatePem: ca.key }
  })
  // Self-signed leaf with the right names, so a test sees a trust failure and not a name mismatch.
  const untrusted = issue({ subject: "localhost", isCa: false })
  return { ca: ca.cert, key: server.key, cert: server.cert, untrusted: { key: untrusted.key, cert: untrusted.cert } }
}

/**
 * Kept on `globalThis`, not only in this module, because vitest re-evaluates
 * modules per test file while the worker process (and so this cache) lives on.
 */
const cacheKey = Symbol.for("@effect-smtp/testing/TestCertificates")

const isTestCertificates = (u: unknown): u is TestCertificates =>
  typeof u === "object" && u !== null && "ca" in u && "key" in u && "cert" in u && "untrusted" in u

/**
 * The certificates, generated on first use and then shared by every caller
 * in the process.
 *
 * @since 0.1.0
 * @category constructors
 */
export const testCertificates = (): TestCertificates => {
  const store = globalThis as Record<symbol, unknown>
  const cached = store[cacheKey]
  if (isTestCertificates(cached)) {
    return cached
  }
  const fresh = generate()
  store[cacheKey] = fresh
  return fresh
}
