/**
 * The server's side of one SASL exchange: PLAIN, LOGIN, CRAM-MD5, XOAUTH2
 * and OAUTHBEARER, checked against the configured credentials.
 */
import { hmac } from "@noble/hashes/hmac.js"
import { md5 } from "@noble/hashes/legacy.js"
import { bytesToHex } from "@noble/hashes/utils.js"
import * as Effect from "effect/Effect"
import * as Base64 from "effect/encoding/Base64"
import * as Result from "effect/Result"
import type { AuthOptions } from "../../TestServer.js"

const fromBase64 = (text: string): string => Result.getOrElse(Base64.decodeString(text.trim()), () => "")
const toBase64 = (text: string): string => Base64.encode(text)
const encoder = new TextEncoder()

/**
 * What an exchange needs from its session.
 *
 * @internal
 */
export interface SaslPeer {
  readonly expected: AuthOptions | undefined
  /** Sends a 334 challenge and reads the client's answer; `undefined` when the client left. */
  readonly response: (prompt: string) => Effect.Effect<string | undefined>
  /** CRAM-MD5's challenge, unique to this moment of this connection. */
  readonly challenge: () => string
}

/**
 * Runs one SASL exchange for the AUTH command `line`; the user when the
 * credentials were right, `undefined` otherwise or when the client left.
 *
 * @internal
 */
export const authenticate = ({ challenge, expected, response }: SaslPeer, line: string) =>
  Effect.gen(function*() {
    const [, mechanismWord, initial] = line.split(" ")
    const mechanism = (mechanismWord ?? "").toUpperCase()
    if (expected === undefined) return undefined
    const accept = (ok: boolean) => (ok ? expected.user : undefined)
    const password = expected.password
    if (mechanism === "PLAIN" && password !== undefined) {
      const answer = initial ?? (yield* response(""))
      if (answer === undefined) return undefined
      const [, user, given] = fromBase64(answer).split("\u0000")
      return accept(user === expected.user && given === password)
    }
    if (mechanism === "LOGIN" && password !== undefined) {
      const user = yield* response(toBase64("Username:"))
      if (user === undefined) return undefined
      const given = yield* response(toBase64("Password:"))
      if (given === undefined) return undefined
      return accept(fromBase64(user) === expected.user && fromBase64(given) === password)
    }
    if (mechanism === "CRAM-MD5" && password !== undefined) {
      const text = challenge()
      const answer = yield* response(toBase64(text))
      if (answer === undefined) return undefined
      const digest = bytesToHex(hmac(md5, encoder.encode(password), encoder.encode(text)))
      return accept(fromBase64(answer) === `${expected.user} ${digest}`)
    }
    if ((mechanism === "XOAUTH2" || mechanism === "OAUTHBEARER") && expected.accessToken !== undefined) {
      const answer = initial ?? (yield* response(""))
      if (answer === undefined) return undefined
      const fields = fromBase64(answer).split("\u0001")
      const user = mechanism === "XOAUTH2"
        ? fields.find((f) => f.startsWith("user="))?.slice(5)
        : /(?:^|,)a=([^,]*)/.exec(fields[0] ?? "")?.[1]?.replace(/=2C/g, ",").replace(/=3D/g, "=")
      const ok = user === expected.user && fields.includes(`auth=Bearer ${expected.accessToken}`)
      if (ok) return expected.user
      // RFC 7628 §3.2.2 / XOAUTH2: an error challenge the client must answer
      // before the final failure.
      yield* response(toBase64(JSON.stringify({ status: "401", schemes: "bearer" })))
      return undefined
    }
    return undefined
  })
