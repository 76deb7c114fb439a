/**
 * The demo's embedded server: smtp-server on loopback with a certificate made
 * at start, STARTTLS and AUTH. Recipients at `rejected.example` get 550.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import selfsigned from "selfsigned"
import { SMTPServer } from "smtp-server"

export interface DemoServer {
  readonly port: number
  /** A loopback port nothing listens on. */
  readonly closedPort: number
  readonly ca: string
  readonly user: string
  readonly password: Redacted.Redacted<string>
  readonly received: Array<{ readonly from: string; readonly to: ReadonlyArray<string>; readonly size: number }>
}

const freePort = Effect.async<number>((resume) => {
  const probe = Net.createServer().listen(0, "127.0.0.1", () => {
    const { port } = probe.address() as Net.AddressInfo
    probe.close(() => resume(Effect.succeed(port)))
  })
})

export const startDemoServer = Effect.gen(function*() {
  const pems = selfsigned.generate([{ name: "commonName", value: "localhost" }], {
    days: 1,
    keySize: 2048,
    algorithm: "sha256",
    extensions: [
      { name: "basicConstraints", cA: true },
      { name: "subjectAltName", altNames: [{ type: 2, value: "localhost" }, { type: 7, ip: "127.0.0.1" }] }
    ]
  })
  const user = "demo"
  const password = Crypto.randomBytes(12).toString("base64url")
  const received: DemoServer["received"] = []
  const tlsOptions: { key: string; cert: string } = { key: pems.private, cert: pems.cert }
  const server = new SMTPServer({
    ...tlsOptions,
    logger: false,
    disableReverseLookup: true,
    authMethods: ["PLAIN", "LOGIN", "CRAM-MD5"],
    onAuth(auth, _session, callback) {
      const ok = auth.username === user &&
        (auth.method === "CRAM-MD5" ? auth.validatePassword(password) : auth.password === password)
      callback(ok ? null : new Error("Invalid username or password"), ok ? { user } : undefined)
    },
    onRcptTo(address, _session, callback) {
      if (address.address.endsWith("@rejected.example")) {
        const error = new Error("5.1.1 Mailbox does not exist") as Error & { responseCode: number }
        error.responseCode = 550
        return callback(error)
      }
      callback()
    },
    onData(stream, session, callback) {
      let size = 0
      stream.on("data", (chunk: Buffer) => {
        size += chunk.length
      })
      stream.on("end", () => {
        const from = session.envelope.mailFrom
        received.push({
          from: from === false ? "" : from.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          size
        })
        callback(null)
      })
    }
  })
  server.on("error", () => {})
  const port = yield* Effect.acquireRelease(
    Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.server.address() as Net.AddressInfo).port)))
    }),
    () => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))
  )
  const closedPort = yield* freePort
  const demo: DemoServer = { port, closedPort, ca: pems.cert, user, password: Redacted.make(password), received }
  return demo
})
