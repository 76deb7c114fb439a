/**
 * The private test servers of scripts/services/ (Dante, tinyproxy, Dovecot)
 * as the tests see them: read from the environment lines their `start`
 * prints. A missing variable means "not started here" (the tests skip with a
 * message saying how to start it); a malformed one throws, so a misconfigured
 * CI fails instead of silently skipping.
 */

export interface HostPort {
  readonly host: string
  readonly port: number
}

const nonEmpty = (value: string | undefined): string | undefined => {
  const trimmed = value?.trim()
  return trimmed === undefined || trimmed === "" ? undefined : trimmed
}

/** `host:port` from `name`, or `undefined` when it is unset. */
export const hostPortOf = (name: string, env: NodeJS.ProcessEnv = process.env): HostPort | undefined => {
  const value = nonEmpty(env[name])
  if (value === undefined) return undefined
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value)
  const port = match === null ? Number.NaN : Number(match[2])
  if (match === null || match[1] === undefined || !(port > 0 && port < 65536)) {
    throw new Error(`${name} must be host:port as printed by its scripts/services script, got ${JSON.stringify(value)}`)
  }
  return { host: match[1], port }
}

/** The value of `name`, which must be set when `because` is. */
export const required = (name: string, because: string, env: NodeJS.ProcessEnv = process.env): string => {
  const value = nonEmpty(env[name])
  if (value === undefined) {
    throw new Error(`${name} must be set when ${because} is (its scripts/services script prints both)`)
  }
  return value
}

export interface ProxyService {
  /** No authentication. */
  readonly open: HostPort
  /** Only with the user name and password below. */
  readonly auth: HostPort
  readonly user: string
  readonly password: string
  /** A host the proxy refuses by rule. */
  readonly deniedHost: string
}

/**
 * A pair of proxies printed as `<prefix>`, `<prefix>_AUTH`, `<prefix>_USER`
 * and `<prefix>_PASSWORD`: EFFECT_SMTP_SOCKS5 (scripts/services/dante.sh) or
 * EFFECT_SMTP_HTTP_PROXY (scripts/services/tinyproxy.sh).
 */
export const proxyService = (
  prefix: "EFFECT_SMTP_SOCKS5" | "EFFECT_SMTP_HTTP_PROXY",
  env: NodeJS.ProcessEnv = process.env
): ProxyService | undefined => {
  const open = hostPortOf(prefix, env)
  if (open === undefined) return undefined
  const auth = hostPortOf(`${prefix}_AUTH`, env)
  if (auth === undefined) throw new Error(`${prefix}_AUTH must be set when ${prefix} is`)
  return {
    open,
    auth,
    user: required(`${prefix}_USER`, prefix, env),
    password: required(`${prefix}_PASSWORD`, prefix, env),
    deniedHost: required("EFFECT_SMTP_PROXY_DENIED_HOST", prefix, env)
  }
}

/** How to make the skipped tests run. */
export const startHint = (script: string, variable: string): string =>
  `set ${variable} (and the lines next to it) to run these: run \`sudo scripts/services/${script}.sh start\`, which prints them (.ci/run does this)`
