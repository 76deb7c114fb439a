/**
 * Client options read through Effect `Config`: `SMTP_URL`, or `SMTP_HOST`,
 * `SMTP_PORT`, `SMTP_SECURITY`, `SMTP_USER` and `SMTP_PASSWORD`. A wrong value
 * fails with a `ConfigError` that names the variable.
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

const fromParts: Config.Config<Options> = Config.all({
  host: Config.String("SMTP_HOST"),
  port: Config.option(Config.Port("SMTP_PORT")),
  security: Config.option(Config.Literals(securities, "SMTP_SECURITY")),
  user: Config.option(Config.String("SMTP_USER")),
  password: Config.option(Config.Redacted("SMTP_PASSWORD"))
}).pipe(
  Config.flatMap(({ host, password, port, security, user }) => {
    if (Option.isSome(user) && Option.isNone(password)) {
      return invalid("SMTP_USER is set, so SMTP_PASSWORD is needed")
    }
    return Config.succeed<Options>({
      host,
      port: Option.getOrUndefined(port),
      security: Option.getOrUndefined(security),
      auth: Option.isSome(user) && Option.isSome(password)
        ? { user: user.value, password: password.value }
        : undefined
    })
  })
)

/**
 * `SMTP_URL` when it is set, else the separate variables (`SMTP_HOST` required).
 *
 * @since 0.1.0
 * @category config
 */
export const options: Config.Config<Options> = Config.option(Config.String("SMTP_URL")).pipe(
  // Only a missing SMTP_URL falls back; a malformed one is reported as such,
  // and an error in the separate variables never mentions SMTP_URL.
  Config.flatMap(Option.match({ onNone: () => fromParts, onSome: fromUrl }))
)
