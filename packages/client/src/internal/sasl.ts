import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Redacted from "effect/Redacted"
import { checkText } from "../SmtpAddress.js"
import { AuthenticationError, type InvalidInputError } from "../SmtpError.js"
import type { Credentials } from "../SmtpProtocol.js"
import { hmacMd5, toHex } from "./md5.js"

/** Strongest first: a mechanism that never sends the password wins. */
const passwordPreference = ["CRAM-MD5", "PLAIN", "LOGIN"] as const
/** OAUTHBEARER is the standard (RFC 7628); XOAUTH2 its widely deployed ancestor. */
const tokenPreference = ["OAUTHBEARER", "XOAUTH2"] as const

/** @internal */
export const choose = (
  credentials: Credentials,
  offered: ReadonlyArray<string>
): Either.Either<string, AuthenticationError> => {
  if (offered.length === 0) return Either.left(new AuthenticationError({ reason: "NotOffered" }))
  const candidates: ReadonlyArray<string> = credentials.mechanism !== undefined
    ? [credentials.mechanism]
    : "password" in credentials
    ? passwordPreference
    : tokenPreference
  const found = candidates.find((m) => offered.includes(m))
  return found !== undefined ? Either.right(found) : Either.left(
    new AuthenticationError({ reason: "NoCommonMechanism", mechanism: credentials.mechanism, offered })
  )
}

/** @internal */
export const checkCredentials = (credentials: { readonly user: string }): InvalidInputError | undefined =>
  checkText("auth.user", credentials.user)

/**
 * One SASL exchange: the response sent with AUTH (if any), and the answer to
 * each 334 challenge. Every string is a base64 line ready to send.
 *
 * @internal
 */
export interface Exchange {
  readonly mechanism: string
  readonly initialResponse: string | undefined
  /** Answers a 334 challenge (its text, base64). */
  readonly respond: (challenge: string) => string
}

const b64 = (text: string): string => Encoding.encodeBase64(text)
const decode = (challenge: string): string => Either.getOrElse(Encoding.decodeBase64String(challenge.trim()), () => "")

/** @internal */
export const start = (
  mechanism: string,
  credentials: Credentials,
  server: { readonly host: string; readonly port: number }
): Exchange => {
  const secret = Redacted.value("password" in credentials ? credentials.password : credentials.accessToken)
  switch (mechanism) {
    case "PLAIN":
      return { mechanism, initialResponse: b64(`\u0000${credentials.user}\u0000${secret}`), respond: () => "" }
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
          return b64(askUser ? credentials.user : secret)
        }
      }
    }
    case "CRAM-MD5":
      return {
        mechanism,
        initialResponse: undefined,
        respond: (challenge) => {
          const encoder = new TextEncoder()
          const digest = toHex(hmacMd5(encoder.encode(secret), encoder.encode(decode(challenge))))
          return b64(`${credentials.user} ${digest}`)
        }
      }
    case "XOAUTH2":
      // On failure the server sends a 334 with a JSON error; an empty
      // response makes it finish with the final 5xx.
      return {
        mechanism,
        initialResponse: b64(`user=${credentials.user}\u0001auth=Bearer ${secret}\u0001\u0001`),
        respond: () => ""
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
        respond: () => b64("\u0001")
      }
  }
}
