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

  it.effect("a bad SMTP_PORT is reported as what it is: its value and the range, never SMTP_URL", () =>
    Effect.gen(function*() {
      for (const port of ["twenty-five", "70000", "0", "-1", "58 7"]) {
        const result = yield* read({ SMTP_HOST: "h", SMTP_PORT: port })
        expect(result._tag).toBe("Failure")
        if (result._tag !== "Failure") continue
        const message = String(result.failure)
        expect(message).toContain(`SMTP_PORT is ${JSON.stringify(port)}`)
        expect(message).toContain("1 to 65535")
        expect(message).not.toContain("SMTP_URL")
      }
      expect(yield* read({ SMTP_HOST: "h", SMTP_PORT: "465" })).toMatchObject({ success: { port: 465 } })
    }))

  it.effect("SMTP_SECURITY=ssl names the variable, the modes, and what ssl usually means", () =>
    Effect.gen(function*() {
      const result = yield* read({ SMTP_HOST: "h", SMTP_SECURITY: "ssl" })
      expect(result._tag).toBe("Failure")
      if (result._tag === "Failure") {
        expect(String(result.failure)).toContain(`SMTP_SECURITY is "ssl"`)
        expect(String(result.failure)).toContain(`"tls" is implicit TLS`)
      }
    }))

  it.effect("nothing set: the error names both SMTP_URL and SMTP_HOST", () =>
    Effect.gen(function*() {
      const result = yield* read({})
      expect(result._tag).toBe("Failure")
      if (result._tag === "Failure") {
        expect(String(result.failure)).toContain("SMTP_HOST is not set (nor SMTP_URL)")
      }
    }))

  const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
  it.effect("SMTP_CA (PEM text) sets tls.ca, with SMTP_URL or the separate variables", () =>
    Effect.gen(function*() {
      const viaUrl = yield* read({ SMTP_URL: "smtps://mail.example.com", SMTP_CA: pem })
      expect(viaUrl).toMatchObject({ _tag: "Success", success: { host: "mail.example.com", tls: { ca: pem } } })
      const viaParts = yield* read({ SMTP_HOST: "mail.example.com", SMTP_CA: pem })
      expect(viaParts).toMatchObject({ _tag: "Success", success: { tls: { ca: pem } } })
      // Line breaks kept as the two characters "\n", as one-line environments do.
      const oneLine = yield* read({ SMTP_HOST: "h", SMTP_CA: pem.replace(/\n/g, "\\n") })
      expect(oneLine).toMatchObject({ _tag: "Success", success: { tls: { ca: pem } } })
      const without = yield* read({ SMTP_HOST: "h" })
      expect(without._tag === "Success" && without.success.tls).toBeUndefined()
    }))

  it.effect("SMTP_CA that is not PEM: named, and (without a file reader) told to give the certificate itself", () =>
    Effect.gen(function*() {
      const result = yield* read({ SMTP_HOST: "h", SMTP_CA: "/etc/ssl/private-ca.pem" })
      expect(result._tag).toBe("Failure")
      if (result._tag === "Failure") expect(String(result.failure)).toContain("SMTP_CA is not PEM text")
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
