import { randomBytes } from "@noble/hashes/utils.js"
import * as Effect from "effect/Effect"
import * as Base64 from "effect/encoding/Base64"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { checkText } from "../SmtpAddress.js"
import { AuthenticationError, InvalidInputError } from "../SmtpError.js"
import type { Credentials } from "../SmtpProtocol.js"
import type { ChannelBinding } from "../Socket.js"
import { hmacMd5, toHex } from "./md5.js"
import { saslprep } from "./saslprep.js"
import * as scram from "./scram.js"

/**
 * Strongest first: SCRAM proves both sides know the password without sending
 * it (its -PLUS variants also bind the proof to the TLS session), then one
 * that never sends the password, then those that do.
 */
const passwordPreference = [...scram.scramMechanisms, "CRAM-MD5", "PLAIN", "LOGIN"] as const
/** OAUTHBEARER is the standard (RFC 7628); XOAUTH2 its widely deployed ancestor. */
const tokenPreference = ["OAUTHBEARER", "XOAUTH2"] as const

/**
 * The mechanism to use. A -PLUS mechanism needs `canBind`: the connection's
 * channel binding.
 *
 * @internal
 */
export const choose = (
  credentials: Credentials,
  offered: ReadonlyArray<string>,
  canBind = false
): Result.Result<string, AuthenticationError> => {
  if (offered.length === 0) return Result.fail(new AuthenticationError({ reason: "NotOffered" }))
  const candidates: ReadonlyArray<string> = credentials.mechanism !== undefined
    ? [credentials.mechanism]
    : "password" in credentials
    ? passwordPreference
    : tokenPreference
  const found = candidates.find((m) => offered.includes(m) && (canBind || !m.endsWith("-PLUS")))
  return found !== undefined ? Result.succeed(found) : Result.fail(
    new AuthenticationError({ reason: "NoCommonMechanism", mechanism: credentials.mechanism, offered })
  )
}

/**
 * The credentials as given, checked before any byte is sent: JavaScript
 * callers (and configuration code) can hand over any shape, and a plain
 * string where a `Redacted` belongs would otherwise die deep in a mechanism.
 * A password or user name SASLprep (RFC 4013) refuses is refused for every
 * password mechanism, not only SCRAM: PLAIN (RFC 4616 §2) prepares both too,
 * and a prohibited character (a control, say) is a paste or encoding mistake
 * that a server would answer with a bare 535, after the credentials crossed
 * the network. PLAIN, LOGIN and CRAM-MD5 still send them as given: only the
 * check is shared. Reasons never quote the password.
 *
 * @internal
 */
export const checkCredentials = (credentials: object): InvalidInputError | undefined => {
  const user: unknown = Reflect.get(credentials, "user")
  if (typeof user !== "string") {
    return new InvalidInputError({ field: "auth.user", reason: `must be a string, got ${describe(user)}` })
  }
  const text = checkText("auth.user", user)
  if (text !== undefined) return text
  if ("tokenProvider" in credentials) return undefined
  if ("accessToken" in credentials) return checkSecret("auth.accessToken", credentials.accessToken)
  if (!("password" in credentials)) {
    return new InvalidInputError({
      field: "auth.password",
      reason: "is missing: give { user, password: Redacted.make(password) } or { user, accessToken }"
    })
  }
  const secret = checkSecret("auth.password", credentials.password)
  if (secret !== undefined) return secret
  const preppedUser = saslprep(user)
  if (Result.isFailure(preppedUser)) {
    return new InvalidInputError({
      field: "auth.user",
      reason: `cannot be SASLprepped (RFC 4013): ${preppedUser.failure}`
    })
  }
  const password = saslprep(Redacted.value(credentials.password as Redacted.Redacted<string>))
  if (Result.isFailure(password)) {
    // Never the password itself, nor where in it the problem is.
    return new InvalidInputError({
      field: "auth.password",
      reason: `cannot be SASLprepped (RFC 4013): ${password.failure}`
    })
  }
  return undefined
}

/** A secret must be a `Redacted` string; the reason names the type given, never the value. */
const checkSecret = (field: string, secret: unknown): InvalidInputError | undefined => {
  if (!Redacted.isRedacted(secret)) {
    return new InvalidInputError({
      field,
      reason: `must be Redacted (Redacted.make(...)), got ${
        describe(secret)
      }: a secret is kept out of logs, spans and error messages only as a Redacted`
    })
  }
  let value: unknown
  try {
    value = Redacted.value(secret)
  } catch {
    // Wiped by Redacted.wipeUnsafe (or an object that only looks Redacted): Effect throws rather than answer.
    return new InvalidInputError({ field, reason: "is a Redacted whose value was wiped (Redacted.wipeUnsafe)" })
  }
  return typeof value === "string"
    ? undefined
    : new InvalidInputError({ field, reason: `must be a Redacted string, got a Redacted ${describe(value)}` })
}

/** What a value is, without showing it (it may be a secret). */
const describe = (value: unknown): string =>
  value === null ? "null" : typeof value === "string" ? "a plain string" : typeof value

/**
 * One SASL exchange: the response sent with AUTH (if any), and the answer to
 * each 334 challenge. Every string is a base64 line ready to send.
 *
 * @internal
 */
export interface Exchange {
  readonly mechanism: string
  readonly initialResponse: string | undefined
  /**
   * Answers a 334 challenge (its text, base64). A failure ends the exchange:
   * the client cancels it ("*") and fails with that error.
   */
  readonly respond: (challenge: string) => Effect.Effect<string, AuthenticationError>
  /**
   * Checks the exchange after 235 (its text): an error when the mechanism
   * requires proof from the server that never came (SCRAM).
   */
  readonly complete: (finalText: string) => AuthenticationError | undefined
}

const b64 = (text: string): string => Base64.encode(text)
const decode = (challenge: string): string => Result.getOrElse(Base64.decodeString(challenge.trim()), () => "")

/** Nothing to check after 235: the mechanism has no server proof. */
const noProof = (): undefined => undefined
const answer = (text: string): Effect.Effect<string, AuthenticationError> => Effect.succeed(text)

/**
 * Derived SCRAM keys per credentials object (RFC 5802 §5.1 lets a client
 * cache them), so a pool's connections run PBKDF2 once per salt and
 * iteration count, not once each. They die with the credentials.
 */
const scramKeys = new WeakMap<object, Map<string, scram.ScramKeys>>()

const cachedDerive = (credentials: object): typeof scram.deriveKeys => (mechanism, password, salt, iterations) => {
  const key = `${mechanism}\u0000${Base64.encode(salt)}\u0000${iterations}`
  const known = scramKeys.get(credentials)?.get(key)
  if (known !== undefined) return Effect.succeed(known)
  return Effect.tap(scram.deriveKeys(mechanism, password, salt, iterations), (keys) =>
    Effect.sync(() => {
      const forCredentials = scramKeys.get(credentials) ?? new Map<string, scram.ScramKeys>()
      // A handful of salts at most: one per server (or per password change).
      if (forCredentials.size >= 8) forCredentials.clear()
      forCredentials.set(key, keys)
      scramKeys.set(credentials, forCredentials)
    }))
}

/** A SCRAM nonce: 18 random bytes as base64, printable and without ",". */
const scramNonce = (): string => Base64.encode(randomBytes(18))

/** @internal */
export interface StartOptions {
  readonly host: string
  readonly port: number
  /** Every mechanism the server offers (SCRAM's "y" flag depends on it). */
  readonly offered?: ReadonlyArray<string> | undefined
  /** The connection's channel binding, if it has one. */
  readonly channelBinding?: ChannelBinding | undefined
  /** The SCRAM client nonce; random by default (tests pin it). */
  readonly nonce?: string | undefined
}

const startScram = (
  mechanism: scram.ScramMechanism,
  credentials: Credentials & { readonly password: Redacted.Redacted<string> },
  options: StartOptions
): Result.Result<Exchange, InvalidInputError> => {
  const user = saslprep(credentials.user)
  if (Result.isFailure(user)) {
    return Result.fail(new InvalidInputError({ field: "auth.user", reason: `cannot be SASLprepped: ${user.failure}` }))
  }
  const password = saslprep(Redacted.value(credentials.password))
  if (Result.isFailure(password)) {
    // Never the password itself, nor where in it the problem is.
    return Result.fail(
      new InvalidInputError({ field: "auth.password", reason: `cannot be SASLprepped: ${password.failure}` })
    )
  }
  const exchange = scram.start({
    mechanism,
    user: user.success,
    password: password.success,
    nonce: options.nonce ?? scramNonce(),
    channelBinding: options.channelBinding,
    serverOffersPlus: (options.offered ?? []).includes(`${mechanism.replace(/-PLUS$/, "")}-PLUS`),
    derive: cachedDerive(credentials)
  })
  return Result.succeed({
    mechanism,
    initialResponse: b64(exchange.clientFirst),
    respond: (challenge) => Effect.map(exchange.respond(decode(challenge)), (text) => text === "" ? "" : b64(text)),
    complete: exchange.complete
  })
}

/**
 * The exchange for `mechanism`; an `InvalidInputError` when the credentials
 * cannot be used with it (SCRAM's SASLprep).
 *
 * @internal
 */
export const start = (
  mechanism: string,
  credentials: Credentials,
  options: StartOptions
): Result.Result<Exchange, InvalidInputError> => {
  if ("password" in credentials && scram.isScram(mechanism)) return startScram(mechanism, credentials, options)
  return Result.succeed(startPlain(mechanism, credentials, options))
}

const startPlain = (
  mechanism: string,
  credentials: Credentials,
  server: { readonly host: string; readonly port: number }
): Exchange => {
  const secret = Redacted.value("password" in credentials ? credentials.password : credentials.accessToken)
  switch (mechanism) {
    case "PLAIN":
      return {
        mechanism,
        initialResponse: b64(`\u0000${credentials.user}\u0000${secret}`),
        respond: () => answer(""),
        complete: noProof
      }
    case "LOGIN": {
      let step = 0
      return {
        mechanism,
        initialResponse: undefined,
        respond: (challenge) => {
          // Servers ask "Username:" then "Password:"; some send other text, so
          // the order decides when the prompt is unrecognisable.
          const prompt = decode(challenge).toLowerCase()
          const askUser = prompt.startsWith("user") || (!prompt.startsWith("pass") && step === 0)
          step++
          return answer(b64(askUser ? credentials.user : secret))
        },
        complete: noProof
      }
    }
    case "CRAM-MD5":
      return {
        mechanism,
        initialResponse: undefined,
        respond: (challenge) => {
          const encoder = new TextEncoder()
          const digest = toHex(hmacMd5(encoder.encode(secret), encoder.encode(decode(challenge))))
          return answer(b64(`${credentials.user} ${digest}`))
        },
        complete: noProof
      }
    case "XOAUTH2":
      // On failure the server sends a 334 with a JSON error; an empty
      // response makes it finish with the final 5xx.
      return {
        mechanism,
        initialResponse: b64(`user=${credentials.user}\u0001auth=Bearer ${secret}\u0001\u0001`),
        respond: () => answer(""),
        complete: noProof
      }
    default:
      // OAUTHBEARER (RFC 7628): on failure the client answers %x01.
      return {
        mechanism,
        initialResponse: b64(
          `n,a=${
            credentials.user.replace(/=/g, "=3D").replace(/,/g, "=2C")
          },\u0001host=${server.host}\u0001port=${server.port}\u0001auth=Bearer ${secret}\u0001\u0001`
        ),
        respond: () => answer(b64("\u0001")),
        complete: noProof
      }
  }
}
