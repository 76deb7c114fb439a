/**
 * The client's spans, captured with a Tracer that records every span: names,
 * kind, the attributes of the telemetry notes, `error.type` on failure, and
 * what a tracer would export never carrying a secret, a recipient or the body.
 */
import { SmtpClient, SmtpError, SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Base64 from "effect/encoding/Base64"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
import { lateFinalReply } from "./utils/servers.js"
import { type RecordedSpan, recordingTracer } from "./utils/tracer.js"

/**
 * Everything an exporter takes from a span. A failed span's error is exported
 * too: `@effect/opentelemetry` records the first error as an exception event
 * (its name, its message, and `Cause.pretty` as the stack trace) and puts the
 * message into the status; an interruption's `Cause.pretty` goes into the status.
 */
const exported = (span: RecordedSpan) => {
  const exit = span.exit
  const failure = exit !== undefined && Exit.isFailure(exit)
    ? {
      errors: Cause.prettyErrors(exit.cause).map((e) => ({ name: e.name, message: e.message, stack: e.stack })),
      pretty: Cause.pretty(exit.cause)
    }
    : undefined
  return JSON.stringify({
    name: span.name,
    attributes: Object.fromEntries(span.attributes),
    events: span.events,
    links: span.links.map((l) => l.attributes),
    failure
  })
}

const password = "pa55-Sw0rdfish-7c1e"
const accessToken = "ya29.a0-secret-access-token-91ab"
const marker = "BODY-MARKER-5f2a9c"
const rejected = ["nobody-1@rejected.example", "nobody-2@rejected.example"]
const accepted = "friend@accepted.example"

const content = `From: a@example.com\r\nTo: ${accepted}\r\nSubject: spans\r\n\r\n${marker}\r\n`
const mail = { from: "a@example.com", to: [accepted], content }

/** What must never appear: the secrets as typed and as sent (base64), recipients, the body. */
const forbidden = [
  password,
  accessToken,
  Base64.encode(`\u0000user\u0000${password}`),
  Base64.encode(`user=user\u0001auth=Bearer ${accessToken}\u0001\u0001`),
  ...rejected,
  accepted,
  marker
]

const expectNothingForbidden = (spans: ReadonlyArray<RecordedSpan>) => {
  for (const span of spans) {
    const text = exported(span)
    for (const secret of forbidden) expect(text, `${span.name} must not carry ${secret}`).not.toContain(secret)
  }
}

const capabilities = ["PIPELINING", "8BITMIME", "STARTTLS", "AUTH PLAIN LOGIN XOAUTH2"]
/** A server that echoes the recipient in its refusal, as Postfix does. */
const rcpt = (address: string) =>
  address.includes("rejected") ? `550 5.1.1 <${address}>: Recipient address rejected` : undefined

const clientLayer = (
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  options: Partial<SmtpClient.Options> = {},
  socket: TestSocket.Options = {},
  metrics: Layer.Layer<SmtpMetrics> = SmtpMetrics.layerNoop
) =>
  SmtpClient.layer({ host: "mail.test", port: 587, security: "starttls", ...options }).pipe(
    Layer.provide(SmtpProtocol.layer),
    Layer.provide(TestSocket.layer(script, { remoteAddress: "192.0.2.7", ...socket })),
    Layer.provide(metrics)
  )

const passwordAuth = (secret: string) => ({
  user: "user",
  password: Redacted.make(secret),
  mechanism: "PLAIN" as const
})

/** Runs `effect` under the recording tracer and returns its exit and the spans. */
const traced = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const { spans, tracer } = recordingTracer()
    const exit = yield* Effect.exit(Effect.withTracer(effect, tracer))
    return { exit, spans }
  })

const baseAttributes = { "url.scheme": "smtp", "server.address": "mail.test", "server.port": 587 }
const withPeer = { ...baseAttributes, "network.peer.address": "192.0.2.7" }

/**
 * A span's attributes, without Effect's own `code.*` debugging attributes
 * (`code.stacktrace`, a source location Effect may add to a failed span).
 */
const attributesOf = (span: RecordedSpan) =>
  Object.fromEntries([...span.attributes].filter(([key]) => !key.startsWith("code.")))

const byName = (spans: ReadonlyArray<RecordedSpan>, name: string) => {
  const found = spans.filter((s) => s.name === name)
  expect(found, name).toHaveLength(1)
  return found[0]!
}

describe("client spans", () => {
  it.effect("a send with AUTH yields smtp.connect, smtp.authenticate and smtp.send: client kind, the notes' attributes, no error", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities, credentials: { user: "user", password } })
      const { exit, spans } = yield* traced(
        SmtpClient.send(mail).pipe(Effect.provide(clientLayer(server.script, { auth: passwordAuth(password) })))
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(spans.map((s) => s.name)).toStrictEqual(["smtp.connect", "smtp.authenticate", "smtp.send"])
      for (const span of spans) {
        expect(span.kind, span.name).toBe("client")
        expect(attributesOf(span), span.name).toStrictEqual(withPeer)
        expect(span.exit !== undefined && Exit.isSuccess(span.exit), span.name).toBe(true)
      }
      expectNothingForbidden(spans)
    }))

  for (const pool of [false, true]) {
    it.effect(
      `${
        pool ? "pooled" : "unpooled"
      }: smtp.send is a child of the caller's span, with the caller's span annotations and links, as Effect's own spans are`,
      () =>
        Effect.gen(function*() {
          const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
          const { exit, spans } = yield* traced(
            Effect.gen(function*() {
              const linked = yield* Effect.makeSpan("app.linked")
              yield* SmtpClient.send(mail).pipe(
                Effect.annotateSpans("app.batch", "b-7"),
                Effect.linkSpans(linked, { "app.reason": "follows" }),
                Effect.withSpan("app.newsletter")
              )
            }).pipe(
              Effect.provide(clientLayer(server.script, { security: "none", ...(pool ? { pool: true } : {}) }))
            )
          )
          expect(Exit.isSuccess(exit)).toBe(true)
          const send = byName(spans, "smtp.send")
          const caller = byName(spans, "app.newsletter")
          expect(Option.map(send.parent, (p) => p.spanId)).toStrictEqual(Option.some(caller.spanId))
          expect(send.attributes.get("app.batch")).toBe("b-7")
          expect(send.links.map((l) => [l.span.spanId, l.attributes])).toStrictEqual([
            [byName(spans, "app.linked").spanId, { "app.reason": "follows" }]
          ])
          expect(send.status._tag).toBe("Ended")
        })
    )
  }

  it.effect("smtp.send spans the send on Effect's Clock: it starts when the send starts and ends with it, though the span is made at the end", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
      // The final reply comes two seconds (TestClock) after the body.
      const slowFinalReply = lateFinalReply(server.script, Duration.seconds(2))
      const fiber = yield* Effect.forkChild(traced(
        Effect.andThen(
          Effect.sleep(Duration.seconds(1)),
          SmtpClient.send(mail).pipe(Effect.provide(clientLayer(slowFinalReply, { security: "none" })))
        )
      ))
      yield* TestClock.adjust(Duration.seconds(5))
      const { exit, spans } = yield* Fiber.join(fiber)
      expect(Exit.isSuccess(exit)).toBe(true)
      const send = byName(spans, "smtp.send")
      const second = BigInt(1_000_000_000)
      expect(send.status._tag === "Ended" && [send.status.startTime, send.status.endTime]).toStrictEqual([
        second,
        BigInt(3) * second
      ])
    }))

  it.effect("implicit TLS: url.scheme is smtps", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING"] })
      const { exit, spans } = yield* traced(
        SmtpClient.send(mail).pipe(Effect.provide(clientLayer(server.script, { port: 465, security: "tls" })))
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(spans.map((s) => s.name)).toStrictEqual(["smtp.connect", "smtp.send"])
      for (const span of spans) {
        expect(attributesOf(span)).toStrictEqual({
          ...withPeer,
          "url.scheme": "smtps",
          "server.port": 465
        })
      }
    }))

  for (
    const [name, auth] of [
      ["a wrong password", passwordAuth(password)],
      ["a refused access token", {
        user: "user",
        accessToken: Redacted.make(accessToken),
        mechanism: "XOAUTH2" as const
      }]
    ] as const
  ) {
    it.effect(`AUTH refused (${name}): smtp.authenticate fails with error.type AuthenticationError; no smtp.send`, () =>
      Effect.gen(function*() {
        // The server knows another password, and no token mechanism at all: 535 either way.
        const server = TestSocket.smtpServer({ capabilities, credentials: { user: "user", password: "other" } })
        const { exit, spans } = yield* traced(
          SmtpClient.send(mail).pipe(Effect.provide(clientLayer(server.script, { auth })))
        )
        expect(Exit.isFailure(exit)).toBe(true)
        expect(spans.map((s) => s.name)).toStrictEqual(["smtp.connect", "smtp.authenticate"])
        const span = byName(spans, "smtp.authenticate")
        expect(attributesOf(span)).toStrictEqual({ ...withPeer, "error.type": "AuthenticationError" })
        expect(span.exit !== undefined && Exit.isFailure(span.exit)).toBe(true)
        expect(attributesOf(byName(spans, "smtp.connect"))).toStrictEqual(withPeer)
        expectNothingForbidden(spans)
        // The caller still gets the whole error.
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
        expect(Option.map(error, (e) => e instanceof SmtpError.AuthenticationError && e.statusCode)).toStrictEqual(
          Option.some(535)
        )
      }))
  }

  it.effect("every recipient refused: smtp.send fails with error.type SmtpCommandError, and no recipient reaches the span", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities, rcpt, credentials: { user: "user", password } })
      const { exit, spans } = yield* traced(
        SmtpClient.send({ ...mail, to: rejected }).pipe(
          Effect.provide(clientLayer(server.script, { auth: passwordAuth(password) }))
        )
      )
      const span = byName(spans, "smtp.send")
      expect(attributesOf(span)).toStrictEqual({ ...withPeer, "error.type": "SmtpCommandError" })
      expect(span.exit !== undefined && Exit.isFailure(span.exit)).toBe(true)
      expectNothingForbidden(spans)
      // The caller's error keeps every detail: the recipients and the server's text.
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined
      expect(error).toBeInstanceOf(SmtpError.SmtpCommandError)
      expect((error as SmtpError.SmtpCommandError).message).toContain(rejected[0])
    }))

  it.effect("a failing body stream: smtp.send carries the metrics' error.type, not the stream's error text", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities })
      const body = Stream.concat(
        Stream.make(new TextEncoder().encode(content)),
        Stream.fail(new Error(`could not read the rest of ${marker} for ${accepted}`))
      )
      const { exit, spans } = yield* traced(
        SmtpClient.send({ ...mail, content: body }).pipe(Effect.provide(clientLayer(server.script)))
      )
      expect(Exit.isFailure(exit)).toBe(true)
      const span = byName(spans, "smtp.send")
      expect(span.attributes.get("error.type")).toBe("InvalidInputError")
      expectNothingForbidden(spans)
    }))

  it.effect("a refused TCP connect: smtp.connect fails with error.type SocketError and has no peer address", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities })
      const refuse = () =>
        Effect.fail(
          new SmtpError.SocketError({ operation: "connect", host: "mail.test", port: 587, code: "ECONNREFUSED" })
        )
      const { spans } = yield* traced(
        SmtpClient.send(mail).pipe(Effect.provide(clientLayer(server.script, {}, { beforeConnect: refuse })))
      )
      expect(spans.map((s) => s.name)).toStrictEqual(["smtp.connect"])
      expect(attributesOf(spans[0]!)).toStrictEqual({ ...baseAttributes, "error.type": "SocketError" })
    }))

  it.effect("no greeting within the timeout: smtp.connect fails with error.type TimeoutError and keeps the peer it reached", () =>
    Effect.gen(function*() {
      const { tracer, spans } = recordingTracer()
      const fiber = yield* Effect.forkChild(
        Effect.withTracer(
          SmtpClient.send(mail).pipe(
            Effect.provide(clientLayer(() => Effect.never, { timeouts: { greeting: Duration.seconds(30) } }))
          ),
          tracer
        )
      )
      yield* TestClock.adjust(Duration.seconds(30))
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(spans.map((s) => s.name)).toStrictEqual(["smtp.connect"])
      expect(attributesOf(spans[0]!)).toStrictEqual({ ...withPeer, "error.type": "TimeoutError" })
    }))

  it.effect("with the opt-in protocol log, span events (Effect's tracer logger) still carry no password, token or body", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities, credentials: { user: "user", password } })
      const { exit, spans } = yield* traced(
        SmtpClient.send(mail).pipe(
          Effect.provide(clientLayer(server.script, { auth: passwordAuth(password), protocolLog: true }))
        )
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(spans.flatMap((s) => s.events).length).toBeGreaterThan(0)
      // Recipients are logged by design when the protocol log is on (RCPT TO lines).
      for (const span of spans) {
        const text = exported(span)
        for (const secret of [password, forbidden[2]!, marker]) expect(text).not.toContain(secret)
      }
    }))
})

describe("client spans under the shipped profile, on Effect's tracer", () => {
  const shipped = SmtpMetrics.layerWith({ profile: "shipped" })

  it.effect("Connect, Authenticate, Send: client kind, url.scheme, server.address and server.port only (no peer, no fiber annotations or links)", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ capabilities, credentials: { user: "user", password } })
      const { spans: linked, tracer: otherTracer } = recordingTracer()
      const link = otherTracer.span({
        name: "app.linked",
        parent: Option.none(),
        annotations: Context.empty(),
        links: [],
        startTime: BigInt(0),
        kind: "internal",
        root: true,
        sampled: true
      })
      expect(linked).toHaveLength(1)
      const { exit, spans } = yield* traced(
        SmtpClient.send(mail).pipe(
          Effect.provide(clientLayer(server.script, { auth: passwordAuth(password) }, {}, shipped)),
          Effect.annotateSpans("app.batch", "b-7"),
          Effect.linkSpans(link, { "app.reason": "follows" })
        )
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(spans.map((s) => s.name)).toStrictEqual(["Connect", "Authenticate", "Send"])
      for (const span of spans) {
        expect(span.kind, span.name).toBe("client")
        expect(attributesOf(span), span.name).toStrictEqual(baseAttributes)
        expect(span.links, span.name).toStrictEqual([])
        expect(span.exit !== undefined && Exit.isSuccess(span.exit), span.name).toBe(true)
      }
    }))

  it.effect("a refused AUTH, then refused recipients: the span fails with MailKit's error.type as the recorded failure's name, and no error.type attribute", () =>
    Effect.gen(function*() {
      const wrong = TestSocket.smtpServer({ capabilities, credentials: { user: "user", password: "other" } })
      const refusing = TestSocket.smtpServer({ capabilities, rcpt, credentials: { user: "user", password } })
      const first = yield* traced(
        SmtpClient.send(mail).pipe(
          Effect.provide(clientLayer(wrong.script, { auth: passwordAuth(password) }, {}, shipped))
        )
      )
      const second = yield* traced(
        SmtpClient.send({ ...mail, to: rejected }).pipe(
          Effect.provide(clientLayer(refusing.script, { auth: passwordAuth(password) }, {}, shipped))
        )
      )
      expect(Exit.isFailure(first.exit) && Exit.isFailure(second.exit)).toBe(true)
      const failedName = (span: RecordedSpan) =>
        span.exit !== undefined && Exit.isFailure(span.exit)
          ? Cause.prettyErrors(span.exit.cause).map((e) => [e.name, e.message])
          : []
      const authenticate = byName(first.spans, "Authenticate")
      expect(attributesOf(authenticate)).toStrictEqual(baseAttributes)
      expect(failedName(authenticate)).toStrictEqual([["AuthenticationError", "AuthenticationError"]])
      const send = byName(second.spans, "Send")
      expect(attributesOf(send)).toStrictEqual(baseAttributes)
      expect(failedName(send)).toStrictEqual([["550", "550"]])
      expectNothingForbidden([...first.spans, ...second.spans])
    }))
})
