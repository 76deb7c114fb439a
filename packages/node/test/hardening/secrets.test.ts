/**
 * Secrets never leak: AUTH with every mechanism (PLAIN, LOGIN, CRAM-MD5 and
 * XOAUTH2 against smtp-server, OAUTHBEARER against the misbehaving server),
 * accepted and refused, with the protocol log on (bodies included), a tracer
 * recording every span and a recording metrics backend. The password or
 * token, raw or in any base64 form the mechanisms put on the wire, must
 * appear in none of: the log lines and their annotations, the spans (names,
 * attributes, events, their exit), the metric events and attributes, and
 * the error (message, fields, inspection, `Cause.pretty`).
 */
import { SmtpClient } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { smtpServer, tokens, users } from "@effect-smtp/test-utils/smtpServer"
import { MisbehavingServer } from "@effect-smtp/testing/node"
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Tracer from "effect/Tracer"
import { inspect } from "node:util"
import { recorder } from "../utils/recordingMetrics.js"

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64")

/** Every form a secret takes on the wire for a mechanism, raw and base64. */
const formsOf = (user: string, secret: string): ReadonlyArray<string> => [
  secret,
  b64(secret),
  b64(`\u0000${user}\u0000${secret}`),
  `Bearer ${secret}`,
  b64(`user=${user}\u0001auth=Bearer ${secret}\u0001\u0001`),
  // The OAUTHBEARER blob without its host/port part is not a substring of the
  // whole blob's base64, so the token alone (raw and base64) covers the rest.
  encodeURIComponent(secret)
]

interface RecordedSpan {
  readonly name: string
  readonly attributes: Map<string, unknown>
  readonly events: Array<readonly [string, Record<string, unknown> | undefined]>
  exit: Exit.Exit<unknown, unknown> | undefined
}

/** A tracer that keeps every span it made. */
const recordingTracer = () => {
  const spans: Array<RecordedSpan> = []
  const tracer = Tracer.make({
    span: ({ annotations, kind, links, name, parent, startTime }) => {
      const record: RecordedSpan = { name, attributes: new Map(), events: [], exit: undefined }
      spans.push(record)
      let status: Tracer.SpanStatus = { _tag: "Started", startTime }
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: `span-${spans.length}`,
        traceId: Option.match(parent, { onNone: () => "trace", onSome: (p) => p.traceId }),
        parent,
        annotations,
        get status() {
          return status
        },
        attributes: record.attributes,
        links: [...links],
        sampled: true,
        kind,
        end: (endTime, exit) => {
          status = { _tag: "Ended", startTime, endTime, exit }
          record.exit = exit
        },
        attribute: (key, value) => void record.attributes.set(key, value),
        event: (eventName, _time, attributes) => void record.events.push([eventName, attributes]),
        addLinks: () => {}
      }
      return span
    }
  })
  return { tracer, spans }
}

type Mechanism = "PLAIN" | "LOGIN" | "CRAM-MD5" | "XOAUTH2" | "OAUTHBEARER"

interface Scenario {
  readonly mechanism: Mechanism
  readonly accepted: boolean
}

const scenarios: ReadonlyArray<Scenario> = (["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"] as const)
  .flatMap((mechanism) => [{ mechanism, accepted: true }, { mechanism, accepted: false }])

const user = "alice"
const oauthBearerToken = "oauthbearer-token-Zq81xW"

/** The secret the client is given: the right one, or a wrong one just as secret. */
const secretFor = ({ accepted, mechanism }: Scenario): string => {
  if (mechanism === "XOAUTH2") return accepted ? tokens[user]! : "ya29.wrong-token-Qm27"
  if (mechanism === "OAUTHBEARER") return accepted ? oauthBearerToken : "oauthbearer-wrong-Kp44"
  return accepted ? users[user]! : "wrong horse battery staple 7731"
}

const run = (scenario: Scenario) =>
  Effect.gen(function*() {
    const { ca, cert, key } = testCertificates()
    const secret = secretFor(scenario)
    const port = scenario.mechanism === "OAUTHBEARER"
      ? (yield* MisbehavingServer.make({ tls: { key, cert }, auth: { user, accessToken: oauthBearerToken } })).port
      : (yield* smtpServer({ authOptional: false })).port
    const auth: SmtpClient.Auth = scenario.mechanism === "XOAUTH2" || scenario.mechanism === "OAUTHBEARER"
      ? { user, accessToken: Redacted.make(secret), mechanism: scenario.mechanism }
      : { user, password: Redacted.make(secret), mechanism: scenario.mechanism }

    const lines: Array<string> = []
    const logger = Logger.make(({ cause, fiber, logLevel, message }) => {
      const annotations = fiber.getRef(References.CurrentLogAnnotations)
      const spans = fiber.getRef(References.CurrentLogSpans)
      lines.push(
        inspect(
          { logLevel, message, annotations: Object.entries(annotations), spans, cause: Cause.pretty(cause) },
          { depth: 10 }
        )
      )
    })
    const { spans, tracer } = recordingTracer()
    const metrics = recorder()

    const result = yield* SmtpClient.send({
      from: "a@example.com",
      to: ["b@example.com"],
      content: "Subject: secrets\r\n\r\nnothing secret in here\r\n"
    }).pipe(
      Effect.result,
      Effect.withSpan("test"),
      Effect.provide(
        NodeSmtp.layerWithMetrics({
          host: "127.0.0.1",
          port,
          security: "starttls",
          tls: { ca },
          auth,
          timeout: "5 seconds",
          protocolLog: { body: true, level: "Debug" }
        }).pipe(Layer.provide(metrics.layer))
      ),
      Effect.provide(Logger.layer([logger])),
      Effect.provideService(References.MinimumLogLevel, "All"),
      Effect.withTracer(tracer)
    )

    const views: Record<string, string> = {
      log: lines.join("\n"),
      spans: inspect(
        spans.map((s) => ({
          name: s.name,
          attributes: [...s.attributes],
          events: s.events,
          exit: s.exit,
          cause: s.exit !== undefined && s.exit._tag === "Failure" ? Cause.pretty(s.exit.cause) : ""
        })),
        { depth: 12 }
      ),
      metrics: `${inspect(metrics.events, { depth: 12 })}\n${JSON.stringify(metrics.attributes())}`,
      error: Result.isFailure(result)
        ? [
          result.failure.message,
          String(result.failure),
          JSON.stringify(result.failure),
          inspect(result.failure, { depth: 12 }),
          Cause.pretty(Cause.fail(result.failure))
        ].join("\n")
        : ""
    }
    return { result, views, secret, spans, lines }
  })

describe("secrets never leak", () => {
  for (const scenario of scenarios) {
    it.live(
      `AUTH ${scenario.mechanism}, ${
        scenario.accepted ? "accepted" : "refused"
      }: no form of the secret in the log, spans, metrics or error`,
      () =>
        Effect.gen(function*() {
          const { lines, result, secret, spans, views } = yield* run(scenario)
          if (scenario.accepted) {
            expect(Result.isSuccess(result), views.error).toBe(true)
          } else {
            if (Result.isSuccess(result)) return expect.unreachable("a wrong secret was accepted")
            expect(result.failure._tag).toBe("AuthenticationError")
            // The failure itself is visible everywhere it should be, only the secret is not.
            expect(views.error).toContain("535")
            expect(views.spans).toContain("AuthenticationError")
          }
          // The views are not empty: the log saw the exchange, the spans and metrics were made.
          expect(views.log).toContain(`AUTH ${scenario.mechanism}`)
          expect(lines.length).toBeGreaterThan(5)
          expect(spans.map((s) => s.name)).toEqual(expect.arrayContaining(["smtp.connect", "smtp.authenticate"]))
          for (const [where, text] of Object.entries(views)) {
            for (const form of formsOf(user, secret)) {
              expect(text.includes(form), `${where} holds ${JSON.stringify(form)}`).toBe(false)
            }
          }
        })
    )
  }
})
