import { SmtpConfig } from "@effect-smtp/client"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

const read = (env: Record<string, string>) =>
  Effect.result(
    Effect.provideService(SmtpConfig.options, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
  )

describe("SmtpConfig", () => {
  it.effect("SMTP_URL: smtps means implicit TLS, credentials are Redacted", () =>
    Effect.gen(function*() {
      const result = yield* read({ SMTP_URL: "smtps://me%40example.com:p%40ss@mail.example.com:465" })
      expect(result._tag).toBe("Success")
      if (result._tag !== "Success") return
      expect(result.success).toMatchObject({ host: "mail.example.com", port: 465, security: "tls" })
      const auth = result.success.auth as { user: string; password: Redacted.Redacted<string> }
      expect(auth.user).toBe("me@example.com")
      expect(Redacted.value(auth.password)).toBe("p@ss")
      expect(String(auth.password)).not.toContain("p@ss")
    }))

  it.effect("SMTP_URL: smtp without credentials, security from the query", () =>
    Effect.gen(function*() {
      const result = yield* read({ SMTP_URL: "smtp://[::1]:2525?security=none" })
      expect(result).toMatchObject({ _tag: "Success", success: { host: "::1", port: 2525, security: "none" } })
    }))

  it.effect("separate variables", () =>
    Effect.gen(function*() {
      const result = yield* read({
        SMTP_HOST: "mail.example.com",
        SMTP_PORT: "587",
        SMTP_SECURITY: "starttls",
        SMTP_USER: "me",
        SMTP_PASSWORD: "secret"
      })
      expect(result).toMatchObject({
        _tag: "Success",
        success: { host: "mail.example.com", port: 587, security: "starttls", auth: { user: "me" } }
      })
    }))

  const failures: ReadonlyArray<readonly [string, Record<string, string>, string]> = [
    ["a malformed SMTP_URL", { SMTP_URL: "http://x" }, "SMTP_URL"],
    ["a URL user without password", { SMTP_URL: "smtp://me@host" }, "SMTP_URL"],
    ["a non-numeric SMTP_PORT", { SMTP_HOST: "h", SMTP_PORT: "twenty-five" }, "SMTP_PORT"],
    ["an unknown SMTP_SECURITY", { SMTP_HOST: "h", SMTP_SECURITY: "ssl" }, "SMTP_SECURITY"],
    ["SMTP_USER without SMTP_PASSWORD", { SMTP_HOST: "h", SMTP_USER: "me" }, "SMTP_PASSWORD"],
    ["nothing at all", {}, "SMTP_HOST"]
  ]
  for (const [name, env, variable] of failures) {
    it.effect(`${name}: the error names ${variable}`, () =>
      Effect.gen(function*() {
        const result = yield* read(env)
        expect(result._tag).toBe("Failure")
        if (result._tag === "Failure") expect(String(result.failure)).toContain(variable)
      }))
  }
})
