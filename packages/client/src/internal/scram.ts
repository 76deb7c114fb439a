import { hmac } from "@noble/hashes/hmac.js"
import { sha1 } from "@noble/hashes/legacy.js"
import { pbkdf2Async } from "@noble/hashes/pbkdf2.js"
import { sha256 } from "@noble/hashes/sha2.js"
import * as Effect from "effect/Effect"
import * as Base64 from "effect/encoding/Base64"
import * as Result from "effect/Result"
import { AuthenticationError, describeValue } from "../SmtpError.js"
import type { ChannelBinding } from "../Socket.js"

/**
 * SCRAM (RFC 5802) with SHA-256 (RFC 7677) or SHA-1, and their -PLUS variants
 * with channel binding: the client's side of the exchange as a small state
 * machine over the server's messages. The server's signature is always
 * verified: a server that cannot prove it knows the password (or skips the
 * proof) fails the exchange, even after it said 235.
 */

/** @internal */
export type ScramMechanism = "SCRAM-SHA-256" | "SCRAM-SHA-256-PLUS" | "SCRAM-SHA-1" | "SCRAM-SHA-1-PLUS"

/** @internal */
export const scramMechanisms: ReadonlyArray<ScramMechanism> = [
  "SCRAM-SHA-256-PLUS",
  "SCRAM-SHA-256",
  "SCRAM-SHA-1-PLUS",
  "SCRAM-SHA-1"
]

/** @internal */
export const isScram = (mechanism: string): mechanism is ScramMechanism =>
  (scramMechanisms as ReadonlyArray<string>).includes(mechanism)

type Hash = typeof sha256 | typeof sha1

const hashOf = (mechanism: ScramMechanism): Hash => mechanism.startsWith("SCRAM-SHA-256") ? sha256 : sha1

/**
 * RFC 7677 §4: a server SHOULD announce at least 4096 iterations; fewer (from
 * a server, or from whoever sits between it and a client without TLS) would
 * make the proof cheap to attack offline. The ceiling bounds the work a
 * hostile server can ask of the client for each connection.
 *
 * @internal
 */
export const iterationLimits = { min: 4096, max: 1_000_000 } as const

/**
 * The keys derived from the password for one salt and iteration count
 * (RFC 5802 §3): all a client needs, and what it may cache.
 *
 * @internal
 */
export interface ScramKeys {
  readonly clientKey: Uint8Array
  readonly serverKey: Uint8Array
}

/** @internal */
export const deriveKeys = (
  mechanism: ScramMechanism,
  password: string,
  salt: Uint8Array,
  iterations: number
): Effect.Effect<ScramKeys> => {
  const hash = hashOf(mechanism)
  // The async variant yields to the event loop every few milliseconds.
  return Effect.map(
    Effect.promise(() => pbkdf2Async(hash, password, salt, { c: iterations, dkLen: hash.outputLen })),
    (salted) => ({
      clientKey: hmac(hash, salted, utf8("Client Key")),
      serverKey: hmac(hash, salted, utf8("Server Key"))
    })
  )
}

const encoder = new TextEncoder()
const utf8 = (text: string): Uint8Array => encoder.encode(text)

const xor = (a: Uint8Array, b: Uint8Array): Uint8Array => a.map((byte, i) => byte ^ (b[i] ?? 0))

/** Compares in time independent of where the inputs differ. */
const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  let difference = 0
  for (let i = 0; i < a.length; i++) difference |= (a[i] ?? 0) ^ (b[i] ?? 0)
  return difference === 0
}

/** RFC 5802 §5.1: "=" and "," in a saslname. */
const escapeName = (name: string): string => name.replace(/=/g, "=3D").replace(/,/g, "=2C")

/** `k=value` attributes in order; a value may itself contain "=". */
const attributes = (message: string): Array<readonly [string, string]> =>
  message.split(",").map((part) => {
    const at = part.indexOf("=")
    return at === 1 ? [part.slice(0, 1), part.slice(2)] as const : ["", part] as const
  })

/** RFC 5802 §7: printable ASCII except ",". */
const validNonce = /^[\u0021-\u002b\u002d-\u007e]+$/

/** @internal */
export interface ScramOptions {
  readonly mechanism: ScramMechanism
  /** SASLprepped. */
  readonly user: string
  /** SASLprepped. */
  readonly password: string
  /** The client nonce: printable ASCII without ",". */
  readonly nonce: string
  /** Required for a -PLUS mechanism; otherwise it sets the "y" flag. */
  readonly channelBinding?: ChannelBinding | undefined
  /** The server offers the -PLUS variant of this mechanism (the "y" flag would then be a downgrade). */
  readonly serverOffersPlus: boolean
  /** Key derivation, for a cache in front of PBKDF2; `deriveKeys` by default. */
  readonly derive?: typeof deriveKeys | undefined
}

/**
 * One exchange: the client-first message, each answer, and the check after
 * the server's final reply. Messages are plain text; the caller base64s them.
 *
 * @internal
 */
export interface ScramExchange {
  readonly clientFirst: string
  /** Answers the server-first (with the client-final) or the server-final (with an empty response). */
  readonly respond: (serverMessage: string) => Effect.Effect<string, AuthenticationError>
  /** After 235: an error unless the server's signature was verified (in a challenge, or in the 235's text). */
  readonly complete: (finalText: string) => AuthenticationError | undefined
}

/**
 * The server-first message's nonce, salt and iteration count (RFC 5802
 * §5.1), or why they cannot be used.
 */
const serverFirstOf = (
  serverFirst: string,
  nonce: string
): { readonly combined: string; readonly salt: Uint8Array; readonly iterations: number } | string => {
  const fields = attributes(serverFirst)
  if (fields[0]?.[0] === "m") return "the server requires an extension this client does not know"
  const value = (key: string) => fields.find(([k]) => k === key)?.[1]
  const combined = value("r")
  const salt = Result.getOrUndefined(Base64.decode(value("s") ?? ""))
  const iterations = Number(value("i"))
  if (combined === undefined || !combined.startsWith(nonce) || combined.length === nonce.length) {
    return "the server's nonce does not extend the client's"
  }
  if (!validNonce.test(combined)) return "the server's nonce has characters RFC 5802 forbids"
  if (salt === undefined || salt.length === 0) return "the server sent no valid salt"
  if (!Number.isSafeInteger(iterations) || iterations < iterationLimits.min || iterations > iterationLimits.max) {
    return `the server asks for ${
      describeValue(value("i") ?? "no", 20)
    } iterations; this client accepts ${iterationLimits.min} to ${iterationLimits.max}`
  }
  return { combined, salt, iterations }
}

/**
 * The GS2 header (RFC 5802 §6): the channel binding used (-PLUS), or "y"
 * when this client could bind but the server offers no -PLUS mechanism.
 */
const gs2HeaderOf = (options: ScramOptions, plus: boolean): string =>
  plus && options.channelBinding !== undefined
    ? `p=${options.channelBinding.type},,`
    : options.channelBinding !== undefined && !options.serverOffersPlus
    ? "y,,"
    : "n,,"

/**
 * One exchange. Its steps (`respond` twice, then `complete`) share the
 * expected server signature and whether it was verified, so they stay
 * closures over them rather than parts taking that state as arguments.
 *
 * @internal
 */
export const start = (options: ScramOptions): ScramExchange => {
  const { channelBinding, mechanism, nonce } = options
  const hash = hashOf(mechanism)
  const plus = mechanism.endsWith("-PLUS")
  const gs2Header = gs2HeaderOf(options, plus)
  const clientFirstBare = `n=${escapeName(options.user)},r=${nonce}`
  const derive = options.derive ?? deriveKeys

  const failed = (detail: string) =>
    new AuthenticationError({ reason: "MechanismFailed", mechanism, serverMessage: detail })
  const unverified = (detail: string) =>
    new AuthenticationError({ reason: "ServerUnverified", mechanism, serverMessage: detail })

  let serverSignature: Uint8Array | undefined = undefined
  let verified = false

  const clientFinal = (serverFirst: string): Effect.Effect<string, AuthenticationError> => {
    const offer = serverFirstOf(serverFirst, nonce)
    if (typeof offer === "string") return Effect.fail(failed(offer))
    const { combined, salt, iterations } = offer
    const binding = plus && channelBinding !== undefined
      ? new Uint8Array([...utf8(gs2Header), ...channelBinding.data])
      : utf8(gs2Header)
    const withoutProof = `c=${Base64.encode(binding)},r=${combined}`
    const authMessage = utf8(`${clientFirstBare},${serverFirst},${withoutProof}`)
    return Effect.map(derive(mechanism, options.password, salt, iterations), ({ clientKey, serverKey }) => {
      const clientSignature = hmac(hash, hash(clientKey), authMessage)
      serverSignature = hmac(hash, serverKey, authMessage)
      return `${withoutProof},p=${Base64.encode(xor(clientKey, clientSignature))}`
    })
  }

  /** The server-final message: `v=` to verify, or `e=` (the server's refusal). */
  const checkFinal = (serverFinal: string): AuthenticationError | undefined => {
    const [key, value] = attributes(serverFinal)[0] ?? ["", ""]
    if (key === "e") {
      return new AuthenticationError({ reason: "Rejected", mechanism, serverMessage: `e=${value}` })
    }
    const signature = Result.getOrUndefined(Base64.decode(value))
    if (key !== "v" || signature === undefined || serverSignature === undefined) {
      return unverified("the server's final message has no verifier")
    }
    if (!equalBytes(signature, serverSignature)) {
      return unverified("the server's signature does not match the password")
    }
    verified = true
    return undefined
  }

  let step = 0
  return {
    clientFirst: `${gs2Header}${clientFirstBare}`,
    respond: (serverMessage) =>
      Effect.suspend(() => {
        step++
        if (step === 1) return clientFinal(serverMessage)
        if (step === 2) {
          const error = checkFinal(serverMessage)
          return error === undefined ? Effect.succeed("") : Effect.fail(error)
        }
        return Effect.fail(failed("the server sent a challenge after its final message"))
      }),
    complete: (finalText) => {
      if (verified) return undefined
      // Some servers put the server-final in the 235 itself (RFC 4954 allows no
      // data with success, so most send it as a 334 instead).
      const last = finalText.trim().split(/\s+/).pop() ?? ""
      const decoded = Result.getOrUndefined(Base64.decodeString(last))
      if (serverSignature !== undefined && decoded !== undefined && decoded.startsWith("v=")) {
        return checkFinal(decoded)
      }
      return unverified("the server accepted the credentials without proving it knows the password")
    }
  }
}
