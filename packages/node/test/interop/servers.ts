/**
 * Where the interop servers of `scripts/services/` listen and keep their
 * files, read from the environment lines their `start` prints (.ci/run
 * exports them before the tests). A server whose main variable is unset is
 * `undefined`, so its tests skip with a message saying how to start it; a
 * server that is half configured throws, so a broken CI set-up fails instead
 * of skipping.
 */
import * as Fs from "node:fs"

export interface Endpoint {
  readonly host: string
  readonly port: number
}

/** Every interop server accepts the same test credential (see the service scripts). */
export const credentials = { user: "smtptest", password: "interop-secret" } as const

const nonEmpty = (value: string | undefined): string | undefined => {
  const trimmed = value?.trim()
  return trimmed === undefined || trimmed === "" ? undefined : trimmed
}

const parseEndpoint = (name: string, value: string, script: string): Endpoint => {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value)
  const port = match === null ? Number.NaN : Number(match[2])
  if (match === null || match[1] === undefined || !(port > 0 && port < 65536)) {
    throw new Error(
      `${name} must be host:port as printed by scripts/services/${script} start, got ${JSON.stringify(value)}`
    )
  }
  return { host: match[1], port }
}

/**
 * Reads `EFFECT_SMTP_<PREFIX>` and its companions: `endpoints` maps a field to
 * the variable's suffix ("" for the main one), `paths` likewise for files and
 * directories that must exist.
 */
const readServer = <P extends string, F extends string>(
  prefix: string,
  script: string,
  endpoints: Record<P, string>,
  paths: Record<F, string>,
  env: NodeJS.ProcessEnv
): ({ readonly [K in P]: Endpoint } & { readonly [K in F]: string }) | undefined => {
  const main = `EFFECT_SMTP_${prefix}`
  if (nonEmpty(env[main]) === undefined) return undefined
  const read = (suffix: string): string => {
    const name = `${main}${suffix}`
    const value = nonEmpty(env[name])
    if (value === undefined) {
      throw new Error(`${main} is set but ${name} is not: export every line scripts/services/${script} start prints`)
    }
    return value
  }
  const result: Record<string, Endpoint | string> = {}
  for (const [field, suffix] of Object.entries<string>(endpoints)) {
    result[field] = parseEndpoint(`${main}${suffix}`, read(suffix), script)
  }
  for (const [field, suffix] of Object.entries<string>(paths)) {
    const path = read(suffix)
    if (!Fs.existsSync(path)) {
      throw new Error(`${main}${suffix}=${path} does not exist: is scripts/services/${script} running on this machine?`)
    }
    result[field] = path
  }
  return result as { readonly [K in P]: Endpoint } & { readonly [K in F]: string }
}

/** Why a server's tests did not run, and how to make them run. */
export const skipReason = (prefix: string, script: string): string =>
  `set EFFECT_SMTP_${prefix} and the other lines \`sudo scripts/services/${script} start\` prints ` +
  `to run these tests against a real server (.ci/run does this)`

/** Exim 4.96: one listener with CHUNKING, one without (DATA), one with implicit TLS; one Maildir. */
export const exim = (env: NodeJS.ProcessEnv = process.env) =>
  readServer("EXIM", "exim.sh", { bdat: "", data: "_DATA", tls: "_TLS" }, {
    maildir: "_MAILDIR",
    ca: "_CA",
    log: "_LOG"
  }, env)

/** OpenSMTPD 6.8: plaintext, and a STARTTLS listener whose handshake always fails (see opensmtpd.sh). */
export const opensmtpd = (env: NodeJS.ProcessEnv = process.env) =>
  readServer("OPENSMTPD", "opensmtpd.sh", { plain: "", startTls: "_TLS" }, {
    maildir: "_MAILDIR",
    ca: "_CA",
    log: "_LOG"
  }, env)

/** aiosmtpd 1.4 (scripts/services/aiosmtpd/server.py): STARTTLS + AUTH, a refusing listener, implicit TLS. */
export const aiosmtpd = (env: NodeJS.ProcessEnv = process.env) =>
  readServer(
    "AIOSMTPD",
    "aiosmtpd.sh",
    {
      submission: "",
      refusing: "_REFUSING",
      tls: "_TLS",
      afterData: "_AFTER_DATA"
    },
    { maildir: "_MAILDIR", ca: "_CA", log: "_LOG" },
    env
  )

/** The PEM of a server's private CA, for `tls: { ca }`. */
export const readCa = (path: string): string => Fs.readFileSync(path, "utf8")
