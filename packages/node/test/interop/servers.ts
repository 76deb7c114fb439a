/**
 * Where the interop servers of `scripts/services/` listen and keep their
 * files, read from the environment lines their `start` prints (.ci/run
 * exports them before the tests). A server whose main variable is unset is
 * `undefined`, so its tests skip with a message saying how to start it; a
 * server that is half configured throws, so a broken CI set-up fails instead
 * of skipping.
 */
import { describe, it } from "@effect/vitest"
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

/** What a server's environment lines say: its listeners (`P`) and its files (`F`). */
export type Server<P extends string, F extends string> = { readonly [K in P]: Endpoint } & { readonly [K in F]: string }

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
): Server<P, F> | undefined => {
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
  return result as Server<P, F>
}

/** Reads one server from the environment (`process.env` unless given); `undefined` when it is not configured. */
export interface ServerReader<S> {
  (env?: NodeJS.ProcessEnv): S | undefined
  /** Why the server's tests did not run, and how to make them run. */
  readonly skipReason: string
}

const serverReader = <P extends string, F extends string>(
  prefix: string,
  script: string,
  endpoints: Record<P, string>,
  paths: Record<F, string>
): ServerReader<Server<P, F>> =>
  Object.assign((env: NodeJS.ProcessEnv = process.env) => readServer(prefix, script, endpoints, paths, env), {
    skipReason: `set EFFECT_SMTP_${prefix} and the other lines \`sudo scripts/services/${script} start\` prints ` +
      `to run these tests against a real server (.ci/run does this)`
  })

/**
 * `describe(title)` for the tests of one server: `tests` receives the server
 * its environment names; when that is unset, one skipped test says how to
 * start it (and a half-set environment throws, failing the file).
 */
export const describeServer = <S>(title: string, read: ServerReader<S>, tests: (server: S) => void): void => {
  describe(title, () => {
    const server = read()
    if (server === undefined) {
      it.skip(read.skipReason, () => {})
      return
    }
    tests(server)
  })
}

/** Exim 4.96: one listener with CHUNKING, one without (DATA), one with implicit TLS; one Maildir. */
export const exim = serverReader("EXIM", "exim.sh", { bdat: "", data: "_DATA", tls: "_TLS" }, {
  maildir: "_MAILDIR",
  ca: "_CA",
  log: "_LOG"
})

/** OpenSMTPD 6.8: plaintext, and a STARTTLS listener whose handshake always fails (see opensmtpd.sh). */
export const opensmtpd = serverReader("OPENSMTPD", "opensmtpd.sh", { plain: "", startTls: "_TLS" }, {
  maildir: "_MAILDIR",
  ca: "_CA",
  log: "_LOG"
})

/** aiosmtpd 1.4 (scripts/services/aiosmtpd/server.py): STARTTLS + AUTH, a refusing listener, implicit TLS. */
export const aiosmtpd = serverReader(
  "AIOSMTPD",
  "aiosmtpd.sh",
  { submission: "", refusing: "_REFUSING", tls: "_TLS", afterData: "_AFTER_DATA" },
  { maildir: "_MAILDIR", ca: "_CA", log: "_LOG" }
)

/** The PEM of a server's private CA, for `tls: { ca }`. */
export const readCa = (path: string): string => Fs.readFileSync(path, "utf8")
