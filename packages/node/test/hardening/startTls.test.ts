/**
 * The STARTTLS test cases of EAST (Poddebniak et al., "Why TLS is better
 * without STARTTLS", USENIX Security 2021) for clients, against a real TLS
 * upgrade on loopback:
 * - B_1: the 220 to STARTTLS is followed by buffered `250` lines before the
 *   handshake (response injection);
 * - D_1: the server supports STARTTLS but the EHLO reply hides it (a
 *   downgrade attacker's `XXXXXXXA`);
 * - O_1: STARTTLS not advertised (and not supported);
 * - O_2, O_3, O_4: STARTTLS advertised, answered 502, 454, 354.
 *
 * With security "starttls" every case fails before any AUTH or MAIL is
 * written. With "starttls-if-available", D_1 and O_1 go on in plaintext only
 * when no credentials are configured; every other case fails.
 */
import { SmtpClient, type SmtpError } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { MisbehavingServer } from "@effect-smtp/testing/node"
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { recorder } from "../utils/recordingMetrics.js"

type EastCase = "B_1" | "B_1 (split write)" | "D_1" | "O_1" | "O_2" | "O_3" | "O_4"

interface Scenario {
  readonly name: EastCase
  readonly server: (tls: { readonly key: string; readonly cert: string }) => MisbehavingServer.Options
  /** How the client must fail when STARTTLS cannot be used (D_1, O_1: only with credentials or "starttls"). */
  readonly failure: ReadonlyArray<SmtpError.SmtpError["_tag"]>
  readonly statusCode?: number
  /** The server never offers STARTTLS visibly: plaintext is acceptable without credentials. */
  readonly notOffered: boolean
}

const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "B_1",
    server: (tls) => ({ tls, faults: { starttls: MisbehavingServer.startTlsInjection() } }),
    failure: ["SmtpProtocolError"],
    notOffered: false
  },
  {
    // The injected lines in their own write: the client may already be in its
    // handshake when they arrive, which TLS then rejects.
    name: "B_1 (split write)",
    server: (tls) => ({
      tls,
      faults: { starttls: MisbehavingServer.startTlsInjection(undefined, { split: true }) }
    }),
    failure: ["SmtpProtocolError", "TlsError"],
    notOffered: false
  },
  { name: "D_1", server: (tls) => ({ tls, hideStartTls: true }), failure: ["TlsError"], notOffered: true },
  { name: "O_1", server: () => ({}), failure: ["TlsError"], notOffered: true },
  {
    name: "O_2",
    server: (tls) => ({ tls, faults: { starttls: MisbehavingServer.reply("502 5.5.1 STARTTLS not implemented") } }),
    failure: ["SmtpCommandError"],
    statusCode: 502,
    notOffered: false
  },
  {
    name: "O_3",
    server: (tls) => ({
      tls,
      faults: { starttls: MisbehavingServer.reply("454 4.7.0 TLS not available due to temporary reason") }
    }),
    failure: ["SmtpCommandError"],
    statusCode: 454,
    notOffered: false
  },
  {
    name: "O_4",
    server: (tls) => ({ tls, faults: { starttls: MisbehavingServer.reply("354 go ahead") } }),
    failure: ["SmtpCommandError"],
    statusCode: 354,
    notOffered: false
  }
]

const password = "east-secret-password"
const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: east\r\n\r\nhello\r\n" }

/** Commands that must never reach a server whose STARTTLS failed. */
const sensitive = /^(AUTH|MAIL|RCPT|DATA|BDAT)\b/i

const run = (
  scenario: Scenario,
  security: "starttls" | "starttls-if-available",
  withCredentials: boolean
) =>
  Effect.gen(function*() {
    const { ca, cert, key } = testCertificates()
    const server = yield* MisbehavingServer.make({
      ...scenario.server({ key, cert }),
      ...(withCredentials ? { auth: { user: "alice", password } } : {})
    })
    const metrics = recorder()
    const result = yield* Effect.result(SmtpClient.send(mail)).pipe(
      Effect.provide(
        NodeSmtp.layerWithMetrics({
          host: "127.0.0.1",
          port: server.port,
          security,
          tls: { ca },
          timeout: "2 seconds",
          ...(withCredentials ? { auth: { user: "alice", password: Redacted.make(password) } } : {})
        }).pipe(Layer.provide(metrics.layer))
      )
    )
    expect(yield* server.awaitOpenConnections(0)).toBe(0)
    return { result, commands: yield* server.commands, messages: yield* server.messages, metrics }
  })

const expectFailure = (
  scenario: Scenario,
  outcome: Effect.Success<ReturnType<typeof run>>
) => {
  const { commands, messages, metrics, result } = outcome
  if (Result.isSuccess(result)) return expect.unreachable(`${scenario.name}: the send succeeded`)
  const error = result.failure
  expect(scenario.failure, error.message).toContain(error._tag)
  if (scenario.statusCode !== undefined) {
    expect(error._tag === "SmtpCommandError" ? error.statusCode : undefined).toBe(scenario.statusCode)
  }
  if (error._tag === "TlsError") {
    expect(error.reason).toBe(scenario.notOffered ? "StartTlsUnavailable" : "HandshakeFailed")
  }
  if (error._tag === "SmtpProtocolError") expect(error.reason).toBe("StartTlsInjection")
  // Nothing past STARTTLS: no AUTH, no envelope, no body, no message.
  expect(commands.filter((c) => sensitive.test(c))).toEqual([])
  expect(messages).toEqual([])
  // The failure is the connect's: no send was attempted.
  expect(metrics.clientConnect().map((e) => e.outcome._tag)).toEqual(["Failure"])
  expect(metrics.messageSend()).toEqual([])
}

describe("STARTTLS: the EAST test cases", () => {
  for (const scenario of scenarios) {
    for (const withCredentials of [false, true]) {
      const credentials = withCredentials ? "with credentials" : "without credentials"
      it.live(`${scenario.name}, security "starttls", ${credentials}: fails before any AUTH or MAIL`, () =>
        Effect.map(run(scenario, "starttls", withCredentials), (outcome) => expectFailure(scenario, outcome)))

      const plaintextAllowed = scenario.notOffered && !withCredentials
      it.live(
        `${scenario.name}, security "starttls-if-available", ${credentials}: ${
          plaintextAllowed ? "continues in plaintext" : "fails before any AUTH or MAIL"
        }`,
        () =>
          Effect.map(run(scenario, "starttls-if-available", withCredentials), (outcome) => {
            if (!plaintextAllowed) return expectFailure(scenario, outcome)
            const { commands, messages, result } = outcome
            expect(Result.isSuccess(result)).toBe(true)
            expect(commands).not.toContain("STARTTLS")
            expect(messages.map((m) => m.tls)).toEqual([false])
          })
      )
    }
  }
})
