/**
 * SCRAM against a real server: Dovecot's submission service
 * (scripts/services/dovecot.sh) with `auth_mechanisms = scram-sha-256
 * scram-sha-1 plain`, over STARTTLS, relaying accepted mail to an smtp-sink
 * that dumps it into a directory. Skipped unless EFFECT_SMTP_DOVECOT_SUBMISSION
 * is set.
 */
import { SmtpClient, type SmtpError } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { hostPortOf, required, startHint } from "./utils/services.js"
import { eventually } from "./utils/sockets.js"

const submission = hostPortOf("EFFECT_SMTP_DOVECOT_SUBMISSION")

/** `alice:pw,bob:pw,...` as printed by scripts/services/dovecot.sh. */
const users = (value: string): Record<string, string> =>
  Object.fromEntries(
    value.split(",").map((pair) => {
      const at = pair.indexOf(":")
      return [pair.slice(0, at), pair.slice(at + 1)]
    })
  )

const uniqueToken = () => `scram-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`

describe("Dovecot submission (SCRAM)", () => {
  if (submission === undefined) {
    it.skip(startHint("dovecot", "EFFECT_SMTP_DOVECOT_SUBMISSION"), () => {})
    return
  }
  const because = "EFFECT_SMTP_DOVECOT_SUBMISSION"
  const ca = Fs.readFileSync(required("EFFECT_SMTP_DOVECOT_CA", because), "utf8")
  const passwords = users(required("EFFECT_SMTP_DOVECOT_USERS", because))
  const sinkDir = required("EFFECT_SMTP_DOVECOT_SINK_DIR", because)

  /** Sends as `user`, logging the protocol; returns the result and the client's command lines. */
  const sendAs = (
    user: string,
    password: string,
    mechanism?: "SCRAM-SHA-256" | "SCRAM-SHA-1" | "PLAIN",
    token = uniqueToken()
  ) => {
    const lines: Array<string> = []
    const capture = Logger.layer([
      Logger.make(({ message }) => {
        for (const part of Array.isArray(message) ? message : [message]) lines.push(String(part))
      })
    ])
    return SmtpClient.send({
      from: `${user}@localhost`,
      to: ["someone@example.com"],
      content: `From: ${user}@localhost\r\nTo: someone@example.com\r\nSubject: ${token}\r\n\r\n${token}\r\n`
    }).pipe(
      Effect.provide(NodeSmtp.layer({
        host: "localhost",
        port: submission.port,
        security: "starttls",
        tls: { ca },
        auth: { user, password: Redacted.make(password), mechanism },
        protocolLog: true
      })),
      Effect.provide(capture),
      Effect.map((result) => ({ result, lines, token })),
      Effect.mapError((error) => ({ error, lines }))
    )
  }

  const authLine = (lines: ReadonlyArray<string>) => lines.join("\n").split("\n").find((l) => l.startsWith("C: AUTH"))

  /** The smtp-sink dump that holds `token`, once it arrives. */
  const relayed = (token: string) =>
    Effect.gen(function*() {
      const find = () =>
        Fs.readdirSync(sinkDir).some((name) => Fs.readFileSync(Path.join(sinkDir, name), "latin1").includes(token))
      yield* eventually(find, `the message ${token} in ${sinkDir}`)
      return true
    })

  const failure = (outcome: { readonly error: SmtpError.SmtpError }) => outcome.error

  it.effect("no mechanism named: SCRAM-SHA-256 is chosen over PLAIN, and the message is relayed", () =>
    Effect.gen(function*() {
      const { lines, result, token } = yield* sendAs("alice", passwords["alice"]!)
      expect(authLine(lines)).toBe("C: AUTH SCRAM-SHA-256 <redacted>")
      // Dovecot sends its proof (server-final, v=...) in a second 334, which
      // the client verified before answering it with an empty line.
      const challenges = lines.join("\n").split("\n").filter((l) => l.startsWith("S: 334 "))
      expect(challenges).toHaveLength(2)
      expect(Buffer.from(challenges[1]!.slice("S: 334 ".length), "base64").toString()).toMatch(/^v=/)
      expect(result.accepted).toEqual(["someone@example.com"])
      expect(yield* relayed(token)).toBe(true)
      // The password never reaches the protocol log.
      expect(lines.join("\n")).not.toContain(passwords["alice"]!)
    }))

  it.effect("a wrong password is AuthenticationError Rejected with the server's 535", () =>
    Effect.gen(function*() {
      const outcome = yield* Effect.flip(sendAs("alice", "not-alices-password"))
      const error = failure(outcome)
      expect(error._tag).toBe("AuthenticationError")
      if (error._tag === "AuthenticationError") {
        expect(error.reason).toBe("Rejected")
        expect(error.mechanism).toBe("SCRAM-SHA-256")
        expect(error.statusCode).toBe(535)
        expect(error.retryable).toBe(false)
      }
      expect(authLine(outcome.lines)).toBe("C: AUTH SCRAM-SHA-256 <redacted>")
    }))

  it.effect("SCRAM-SHA-1 for a user whose password Dovecot stores in clear", () =>
    Effect.gen(function*() {
      const { lines, result } = yield* sendAs("bob", passwords["bob"]!, "SCRAM-SHA-1")
      expect(authLine(lines)).toBe("C: AUTH SCRAM-SHA-1 <redacted>")
      expect(result.accepted).toHaveLength(1)
    }))

  it.effect("SCRAM-SHA-1 for a user stored as a SCRAM-SHA-256 hash is refused by the server (it has no SHA-1 keys)", () =>
    Effect.gen(function*() {
      const error = failure(yield* Effect.flip(sendAs("alice", passwords["alice"]!, "SCRAM-SHA-1")))
      expect(error._tag === "AuthenticationError" && error.reason).toBe("Rejected")
    }))

  it.effect("SASLprep: \"I<soft hyphen>X\" authenticates as the stored \"IX\" over SCRAM, and not over PLAIN", () =>
    Effect.gen(function*() {
      expect(passwords["carol"]).toBe("IX")
      const { lines } = yield* sendAs("carol", "I\u00adX")
      expect(authLine(lines)).toBe("C: AUTH SCRAM-SHA-256 <redacted>")
      // PLAIN sends the password as it is: Dovecot compares it unprepped.
      const error = failure(yield* Effect.flip(sendAs("carol", "I\u00adX", "PLAIN")))
      expect(error._tag === "AuthenticationError" && error.reason).toBe("Rejected")
    }))

  for (const mechanism of ["PLAIN", "SCRAM-SHA-256"] as const) {
    it.effect(`SASLprep refuses a control character for ${mechanism} too: InvalidInputError, nothing said to Dovecot`, () =>
      Effect.gen(function*() {
        const { error, lines } = yield* Effect.flip(sendAs("bob", `${passwords["bob"]!}\u0007`, mechanism))
        expect(error._tag).toBe("InvalidInputError")
        expect(error._tag === "InvalidInputError" && error.field).toBe("auth.password")
        expect(error.message).not.toContain(passwords["bob"]!)
        // Refused before the connection: not even the greeting was read.
        expect(lines.filter((l) => l.startsWith("C: ") || l.startsWith("S: "))).toEqual([])
      }))
  }
})
