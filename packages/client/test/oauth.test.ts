import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/testing/TestClock"

const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: x\r\n\r\nx\r\n" }

/** A token provider handing out `tokens` in turn, counting calls; each token lives one hour. */
const provider = (tokens: ReadonlyArray<string>, delay = Duration.zero) => {
  const state = { calls: 0 }
  const tokenProvider = Effect.gen(function*() {
    const token = tokens[Math.min(state.calls, tokens.length - 1)]!
    state.calls++
    yield* Effect.sleep(delay)
    return { accessToken: Redacted.make(token), expiresIn: Duration.hours(1) }
  })
  return { state, tokenProvider }
}

const layerFor = (
  server: ReturnType<typeof TestSocket.smtpServer>,
  tokenProvider: SmtpClient.TokenProviderCredentials["tokenProvider"],
  pool?: SmtpClient.Options["pool"]
) =>
  scriptedClient(server.script, {
    host: "mail.test",
    port: 25,
    security: "none",
    auth: { user: "alice", tokenProvider, mechanism: "XOAUTH2" },
    pool
  })

const serverAccepting = (token: string) =>
  TestSocket.smtpServer({
    capabilities: ["AUTH XOAUTH2", "PIPELINING"],
    credentials: { user: "alice", password: token }
  })

describe("OAuth2 token provider", () => {
  it.effect("caches the token until shortly before it expires", () =>
    Effect.gen(function*() {
      const { state, tokenProvider } = provider(["t1"])
      const server = serverAccepting("t1")
      yield* Effect.gen(function*() {
        yield* SmtpClient.send(mail)
        yield* SmtpClient.send(mail)
        expect(state.calls).toBe(1)
        // One minute before the hour is up, the next send refreshes.
        yield* TestClock.adjust(Duration.minutes(58))
        yield* SmtpClient.send(mail)
        expect(state.calls).toBe(1)
        yield* TestClock.adjust(Duration.minutes(1))
        yield* SmtpClient.send(mail)
        expect(state.calls).toBe(2)
      }).pipe(Effect.provide(layerFor(server, tokenProvider)))
    }))

  it.effect("concurrent sends share one refresh (single flight)", () =>
    Effect.gen(function*() {
      const { state, tokenProvider } = provider(["t1"], Duration.seconds(1))
      const server = serverAccepting("t1")
      yield* Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(
          Effect.forEach([1, 2, 3, 4, 5], () => SmtpClient.send(mail), { concurrency: 5 })
        )
        yield* TestClock.adjust(Duration.seconds(1))
        yield* Fiber.join(fiber)
        expect(state.calls).toBe(1)
        expect(server.received).toHaveLength(5)
      }).pipe(Effect.provide(layerFor(server, tokenProvider, { maxConnections: 5 })))
    }))

  it.effect("a refused token (334, then 535) is refreshed once and AUTH tried once more", () =>
    Effect.gen(function*() {
      const { state, tokenProvider } = provider(["revoked", "t2"])
      const server = serverAccepting("t2")
      yield* Effect.gen(function*() {
        const result = yield* SmtpClient.send(mail)
        expect(result.accepted).toEqual(["b@example.com"])
        expect(state.calls).toBe(2)
        expect(server.commands.filter((c) => c.startsWith("AUTH XOAUTH2"))).toHaveLength(2)
      }).pipe(Effect.provide(layerFor(server, tokenProvider)))
    }))

  it.effect("only once: a second refusal is an AuthenticationError with 535", () =>
    Effect.gen(function*() {
      const { state, tokenProvider } = provider(["bad1", "bad2", "bad3"])
      const server = serverAccepting("never")
      const error = yield* Effect.flip(SmtpClient.send(mail).pipe(Effect.provide(layerFor(server, tokenProvider))))
      expect(error).toBeInstanceOf(SmtpError.AuthenticationError)
      expect((error as SmtpError.AuthenticationError).statusCode).toBe(535)
      expect(state.calls).toBe(2)
      expect(error.message).not.toContain("bad")
    }))

  it.effect("a failing provider is an AuthenticationError (TokenUnavailable) that repeats nothing it said", () =>
    Effect.gen(function*() {
      const server = serverAccepting("t1")
      const error = yield* Effect.flip(
        SmtpClient.send(mail).pipe(
          Effect.provide(layerFor(server, Effect.fail(new Error("refresh token rt-secret-123 was revoked"))))
        )
      )
      expect(error).toBeInstanceOf(SmtpError.AuthenticationError)
      expect((error as SmtpError.AuthenticationError).reason).toBe("TokenUnavailable")
      expect(`${error.message} ${JSON.stringify(error)}`).not.toContain("rt-secret-123")
    }))
})
