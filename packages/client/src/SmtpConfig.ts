/**
 * Client options read through Effect `Config`: `SMTP_URL`, or `SMTP_HOST`,
 * `SMTP_PORT`, `SMTP_SECURITY`, `SMTP_USER` and `SMTP_PASSWORD`; `SMTP_CA`
 * for a private CA. A wrong value fails with a `ConfigError` that names the
 * variable.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import type { Options } from "./SmtpClient.js"
import type { Security } from "./SmtpProtocol.js"

const securities: ReadonlyArray<Security> = ["tls", "starttls", "starttls-if-available", "none"]

/**
 * Parses `smtp://user:password@host:port` or `smtps://...` (implicit TLS).
 * `?security=starttls` (or any mode) overrides the scheme's default.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseUrl = (text: string): Result.Result<Options, string> => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return Result.fail("is not a URL; expected smtp://user:password@host:port or smtps://...")
  }
  if (url.protocol !== "smtp:" && url.protocol !== "smtps:") {
    return Result.fail(`has the scheme "${url.protocol.slice(0, -1)}"; expected smtp or smtps`)
  }
  if (url.hostname === "") return Result.fail("has no host")
  const security = url.searchParams.get("security")
  if (security !== null && !securities.includes(security as Security)) {
    return Result.fail(`has security=${security}; expected one of ${securities.join(", ")}`)
  }
  const user = decodeURIComponent(url.username)
  const password = decodeURIComponent(url.password)
  if (user !== "" && password === "") return Result.fail("names a user but no password")
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  return Result.succeed({
    host: hostname,
    port: url.port === "" ? undefined : Number(url.port),
    security: security !== null ? security as Security : url.protocol === "smtps:" ? "tls" : undefined,
    auth: user === "" ? undefined : { user, password: Redacted.make(password) }
  })
}

// A value that is present but unusable: named by its variable, reported as is
// (never a reason to fall back to the other variables).
const invalid = (message: string): Config.Config<never> => Config.fail(new ConfigProvider.SourceError({ message }))

const fromUrl = (text: string): Config.Config<Options> =>
  Result.match(parseUrl(text), {
    onFailure: (reason) => invalid(`SMTP_URL ${reason}`),
    onSuccess: (options) => Config.succeed(options)
  })

/** A port as the variable holds it: named, quoted and explained when it is not one. */
const port = (name: string): Config.Config<Option.Option<number>> =>
  Config.option(Config.String(name)).pipe(Config.flatMap(Option.match({
    onNone: () => Config.succeed(Option.none()),
    onSome: (text) => {
      const value = Number(text.trim())
      return /^\s*\d+\s*$/.test(text) && value >= 1 && value <= 65535
        ? Config.succeed(Option.some(value))
        : invalid(`${name} is ${JSON.stringify(text)}: expected a port number from 1 to 65535 (587, 465, 25)`)
    }
  })))

const security = (name: string): Config.Config<Option.Option<Security>> =>
  Config.option(Config.String(name)).pipe(Config.flatMap(Option.match({
    onNone: () => Config.succeed(Option.none()),
    onSome: (text) =>
      securities.includes(text as Security)
        ? Config.succeed(Option.some(text as Security))
        : invalid(
          `${name} is ${JSON.stringify(text)}: expected one of ${securities.join(", ")}${
            text.toLowerCase() === "ssl" ? " (\"tls\" is implicit TLS, what \"ssl\" usually means)" : ""
          }`
        )
  })))

const fromParts: Config.Config<Options> = Config.all({
  host: Config.option(Config.String("SMTP_HOST")),
  port: port("SMTP_PORT"),
  security: security("SMTP_SECURITY"),
  user: Config.option(Config.String("SMTP_USER")),
  password: Config.option(Config.Redacted("SMTP_PASSWORD"))
}).pipe(
  Config.flatMap(({ host, password, port, security, user }) => {
    if (Option.isNone(host) || host.value.trim() === "") {
      return invalid("SMTP_HOST is not set (nor SMTP_URL): set SMTP_URL=smtp://user:password@host:587, or SMTP_HOST")
    }
    if (Option.isSome(user) && Option.isNone(password)) {
      return invalid("SMTP_USER is set, so SMTP_PASSWORD is needed")
    }
    return Config.succeed<Options>({
      host: host.value,
      port: Option.getOrUndefined(port),
      security: Option.getOrUndefined(security),
      auth: Option.isSome(user) && Option.isSome(password)
        ? { user: user.value, password: password.value }
        : undefined
    })
  })
)

/**
 * How `SMTP_CA` is read: PEM text always; anything else is handed to
 * `readCaFile` (a platform's file reader, e.g. `NodeSmtp.layerConfig`'s), or
 * refused where there is none.
 *
 * @since 0.1.0
 * @category models
 */
export interface OptionsSettings {
  /** Reads the PEM file at a path; the failure says why (a person reads it after "SMTP_CA ..."). */
  readonly readCaFile?: ((path: string) => Result.Result<string, string>) | undefined
}

const isPem = (text: string): boolean => text.includes("-----BEGIN ")

const ca = (settings: OptionsSettings): Config.Config<Option.Option<string>> =>
  Config.option(Config.String("SMTP_CA")).pipe(Config.flatMap(Option.match({
    onNone: () => Config.succeed(Option.none()),
    onSome: (text) => {
      // Environments often keep a PEM's line breaks as the two characters "\n".
      const pem = text.includes("\\n") && !text.includes("\n") ? text.replace(/\\n/g, "\n") : text
      if (isPem(pem)) return Config.succeed(Option.some(pem))
      if (settings.readCaFile === undefined) {
        return invalid(
          "SMTP_CA is not PEM text (-----BEGIN CERTIFICATE----- ...): give the CA certificate itself " +
            "(NodeSmtp.layerConfig() also takes a file path)"
        )
      }
      return Result.match(settings.readCaFile(text), {
        onFailure: (reason) => invalid(`SMTP_CA is the path ${JSON.stringify(text)}, which ${reason}`),
        onSuccess: (content) =>
          isPem(content)
            ? Config.succeed(Option.some(content))
            : invalid(
              `SMTP_CA is the path ${JSON.stringify(text)}, whose content is not PEM (-----BEGIN CERTIFICATE-----)`
            )
      })
    }
  })))

/**
 * `options`, with `SMTP_CA` read as the platform allows (see
 * `OptionsSettings`).
 *
 * @since 0.1.0
 * @category config
 */
export const optionsWith = (settings: OptionsSettings): Config.Config<Options> =>
  Config.all({
    base: Config.option(Config.String("SMTP_URL")).pipe(
      // Only a missing SMTP_URL falls back; a malformed one is reported as such,
      // and an error in the separate variables never mentions SMTP_URL.
      Config.flatMap(Option.match({ onNone: () => fromParts, onSome: fromUrl }))
    ),
    ca: ca(settings)
  }).pipe(Config.map(({ base, ca }): Options =>
    // A private CA replaces the system store for this server only (tls.ca).
    Option.isSome(ca) ? { ...base, tls: { ...base.tls, ca: ca.value } } : base
  ))

/**
 * `SMTP_URL` when it is set, else the separate variables (`SMTP_HOST`
 * required); `SMTP_CA`, PEM text, sets `tls.ca` for a private CA.
 *
 * @since 0.1.0
 * @category config
 */
export const options: Config.Config<Options> = optionsWith({})
