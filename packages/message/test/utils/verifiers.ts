/**
 * DKIM verifiers nobody here wrote, with public keys served without DNS:
 *
 * - mailauth (npm, in this process): its `resolver` option answers the TXT query;
 * - dkimpy (Debian's python3-dkim): one Python process for a whole test file
 *   (dkimpy_verify.py), its `dnsfunc` answering from the keys given;
 * - OpenDKIM's libopendkim (Debian's opendkim): `opendkim -t` in its test
 *   mode, reading keys from a `TestPublicKeys` file. (`opendkim-testmsg`
 *   verifies through DNS only, so it cannot be given a key.)
 *
 * The Debian ones are skipped with a message when absent; in CI (where
 * .ci/run installs them) a missing one fails instead.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { dkimVerify } from "mailauth/lib/dkim/verify.js"
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process"
import { generateKeyPairSync, type KeyObject } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

// ---------------------------------------------------------------------------
// Keys, made at test time
// ---------------------------------------------------------------------------

export interface TestKey {
  readonly algorithm: "rsa-sha256" | "ed25519-sha256"
  readonly domain: string
  readonly selector: string
  /** PKCS#8 PEM. */
  readonly pem: string
  readonly privateKey: KeyObject
  /** The TXT record, made by node:crypto (not by the code under test). */
  readonly record: string
}

const rsaRecord = (publicKey: KeyObject): string =>
  `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`

/** The raw Ed25519 public key is the last 32 octets of its SubjectPublicKeyInfo. */
const ed25519Record = (publicKey: KeyObject): string =>
  `v=DKIM1; k=ed25519; p=${publicKey.export({ type: "spki", format: "der" }).subarray(-32).toString("base64")}`

export const rsaKey = (domain: string, selector: string, bits = 2048): TestKey => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: bits })
  return {
    algorithm: "rsa-sha256",
    domain,
    selector,
    pem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    privateKey,
    record: rsaRecord(publicKey)
  }
}

export const ed25519Key = (domain: string, selector: string): TestKey => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519")
  return {
    algorithm: "ed25519-sha256",
    domain,
    selector,
    pem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    privateKey,
    record: ed25519Record(publicKey)
  }
}

const recordsOf = (keys: ReadonlyArray<TestKey>): Record<string, string> =>
  Object.fromEntries(keys.map((k) => [`${k.selector}._domainkey.${k.domain}`, k.record]))

// ---------------------------------------------------------------------------
// Finding the Debian tools
// ---------------------------------------------------------------------------

const inCi = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"

/** A python with dkimpy and PyNaCl (for Ed25519): the one on PATH may be another (pyenv's). */
const findPython = (): string | undefined =>
  [process.env.EFFECT_SMTP_PYTHON, "python3", "/usr/bin/python3"].find((python) =>
    python !== undefined && python !== "" &&
    spawnSync(python, ["-c", "import dkim, nacl"], { stdio: "ignore" }).status === 0
  )

const findOpendkim = (): string | undefined =>
  ["opendkim", "/usr/sbin/opendkim"].find((binary) => spawnSync(binary, ["-V"], { stdio: "ignore" }).status === 0)

export type VerifierName = "mailauth" | "dkimpy" | "opendkim"

/** One verdict per DKIM-Signature, top first; opendkim -t reports the first signature only. */
export interface Verdict {
  readonly ok: boolean
  readonly detail: string
}

export type Verdicts = Readonly<Partial<Record<VerifierName, ReadonlyArray<Verdict>>>>

// ---------------------------------------------------------------------------
// The verifiers
// ---------------------------------------------------------------------------

const mailauth = async (path: string, records: Record<string, string>): Promise<ReadonlyArray<Verdict>> => {
  const result = await dkimVerify(Fs.createReadStream(path), {
    resolver: async (name: string, type: string) => {
      const record = records[name]
      if (type !== "TXT" || record === undefined) {
        throw Object.assign(new Error(`no ${type} record for ${name}`), { code: "ENOTFOUND" })
      }
      return [[record]]
    }
  })
  return result.results.map((r) => ({
    ok: r.status.result === "pass",
    detail: `${r.status.result}${r.status.comment ? `: ${r.status.comment}` : ""}`
  }))
}

class Dkimpy {
  private readonly child: ChildProcessWithoutNullStreams
  private buffered = ""
  private readonly waiting: Array<(line: string) => void> = []
  constructor(python: string) {
    this.child = spawn(python, [Path.join(import.meta.dirname, "dkimpy_verify.py")])
    this.child.stdout.setEncoding("utf8")
    this.child.stdout.on("data", (data: string) => {
      this.buffered += data
      for (let nl = this.buffered.indexOf("\n"); nl !== -1; nl = this.buffered.indexOf("\n")) {
        const line = this.buffered.slice(0, nl)
        this.buffered = this.buffered.slice(nl + 1)
        this.waiting.shift()?.(line)
      }
    })
    this.child.stderr.pipe(process.stderr)
  }
  verify(path: string, records: Record<string, string>): Promise<ReadonlyArray<Verdict>> {
    return new Promise((resolve) => {
      this.waiting.push((line) => {
        const answer = JSON.parse(line) as {
          results: Array<{ ok: boolean; error: string | null }>
          crash?: string
        }
        if (answer.crash !== undefined) resolve([{ ok: false, detail: `dkimpy crashed: ${answer.crash}` }])
        else resolve(answer.results.map((r) => ({ ok: r.ok, detail: r.error ?? "pass" })))
      })
      this.child.stdin.write(`${JSON.stringify({ path, records })}\n`)
    })
  }
  close() {
    this.child.stdin.end()
    this.child.kill()
  }
}

/** `opendkim -t` on several files at once: one verdict line per file. */
const opendkim = async (
  binary: string,
  dir: string,
  paths: ReadonlyArray<string>,
  records: Record<string, string>
): Promise<ReadonlyArray<ReadonlyArray<Verdict>>> => {
  const keys = Path.join(dir, "opendkim-keys")
  const conf = Path.join(dir, "opendkim.conf")
  Fs.writeFileSync(keys, Object.entries(records).map(([name, record]) => `${name} ${record}\n`).join(""))
  Fs.writeFileSync(conf, `TestPublicKeys ${keys}\nSyslog no\nMinimumKeyBits 1024\n`)
  const run = spawnSync(binary, ["-x", conf, "-t", paths.join(",")], { encoding: "utf8" })
  const lines = `${run.stdout}\n${run.stderr}`.split("\n")
  return paths.map((path) => {
    const line = lines.find((l) => l.startsWith(`opendkim: ${path}: `))
    if (line === undefined) return [{ ok: false, detail: `no verdict (exit ${run.status}): ${run.stderr.trim()}` }]
    return [{ ok: /verification \(.*\) succeeded$/.test(line), detail: line.slice(`opendkim: ${path}: `.length) }]
  })
}

// ---------------------------------------------------------------------------
// As a test service
// ---------------------------------------------------------------------------

export interface VerifiersService {
  /** The verifiers that will run; the others were skipped with a message on stderr. */
  readonly names: ReadonlyArray<VerifierName>
  /** A fresh file in the test's temporary directory. */
  readonly file: (name: string) => string
  /** Every verifier's verdicts on the message in `path`, keys served from `keys`. */
  readonly verifyFile: (path: string, keys: ReadonlyArray<TestKey>) => Effect.Effect<Verdicts>
  /** The same for several messages: opendkim reads them in one run. */
  readonly verifyFiles: (
    paths: ReadonlyArray<string>,
    keys: ReadonlyArray<TestKey>
  ) => Effect.Effect<ReadonlyArray<Verdicts>>
  readonly verify: (message: Uint8Array, keys: ReadonlyArray<TestKey>) => Effect.Effect<Verdicts>
}

export class Verifiers extends Context.Service<Verifiers, VerifiersService>()("test/Verifiers") {}

const missing = (what: string, how: string) => {
  const message = `${what} is not installed: ${how} (.ci/run installs it from .ci/apt-packages)`
  if (inCi) throw new Error(`CI must run the DKIM verifier: ${message}`)
  process.stderr.write(`DKIM tests: skipping ${what}: ${message}\n`)
}

export const layer: Layer.Layer<Verifiers> = Layer.effect(
  Verifiers,
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-smtp-dkim-"))),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )
    const python = findPython()
    if (python === undefined) missing("dkimpy (python3-dkim)", "apt-get install python3-dkim")
    const dkimpy = python === undefined ? undefined : yield* Effect.acquireRelease(
      Effect.sync(() => new Dkimpy(python)),
      (p) => Effect.sync(() => p.close())
    )
    const opendkimBinary = findOpendkim()
    if (opendkimBinary === undefined) missing("OpenDKIM (opendkim)", "apt-get install opendkim")
    const names: Array<VerifierName> = [
      "mailauth",
      ...(dkimpy === undefined ? [] : ["dkimpy" as const]),
      ...(opendkimBinary === undefined ? [] : ["opendkim" as const])
    ]
    let files = 0
    const file = (name: string) => Path.join(dir, `${++files}-${name}`)

    const verifyFiles = (paths: ReadonlyArray<string>, keys: ReadonlyArray<TestKey>) =>
      Effect.promise(async (): Promise<ReadonlyArray<Verdicts>> => {
        const records = recordsOf(keys)
        const fromOpendkim = opendkimBinary === undefined
          ? undefined
          : await opendkim(opendkimBinary, dir, paths, records)
        const all: Array<Verdicts> = []
        for (const [i, path] of paths.entries()) {
          all.push({
            mailauth: await mailauth(path, records),
            ...(dkimpy === undefined ? {} : { dkimpy: await dkimpy.verify(path, records) }),
            ...(fromOpendkim === undefined ? {} : { opendkim: fromOpendkim[i]! })
          })
        }
        return all
      })

    const verifyFile = (path: string, keys: ReadonlyArray<TestKey>) =>
      Effect.map(verifyFiles([path], keys), (all) => all[0]!)

    return {
      names,
      file,
      verifyFiles,
      verifyFile,
      verify: (message, keys) =>
        Effect.suspend(() => {
          const path = file("message.eml")
          Fs.writeFileSync(path, message)
          return verifyFile(path, keys)
        })
    }
  })
)
