/**
 * A real `smtp-server` (npm) on loopback for the duration of a scope, with a
 * record of every message it received.
 */
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import type { AddressInfo } from "node:net"
import { SMTPServer, type SMTPServerOptions } from "smtp-server"

export interface ReceivedMail {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly size: number
  readonly sha256: string
  /** The body, for messages up to 1 MiB (bigger ones are only hashed). */
  readonly data: Buffer | undefined
  readonly user: string | undefined
  readonly secure: boolean
  readonly utf8: boolean
  readonly body8bit: boolean
}

export interface RunningServer {
  readonly port: number
  readonly received: Array<ReceivedMail>
  /** Connections currently open on the server. */
  readonly connections: Effect.Effect<number>
}

export const users: Record<string, string> = { alice: "correct horse battery staple" }
export const tokens: Record<string, string> = { alice: "ya29.test-token" }

/** Recipients starting with "reject" are refused with 550 5.1.1. */
export const smtpServer = (options: Partial<SMTPServerOptions> = {}) =>
  Effect.acquireRelease(
    Effect.callback<{ server: SMTPServer; running: RunningServer }>((resume) => {
      const { cert, key } = testCertificates()
      const received: Array<ReceivedMail> = []
      // smtp-server's bundled types lose the TLS options they extend; the
      // options object is typed here instead.
      const tlsOptions: { key: string; cert: string } = { key, cert }
      const server = new SMTPServer({
        ...tlsOptions,
        authOptional: true,
        authMethods: ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"],
        logger: false,
        disableReverseLookup: true,
        size: 64 * 1024 * 1024,
        onAuth(auth, _session, callback) {
          if (auth.method === "XOAUTH2") {
            return tokens[auth.username ?? ""] === auth.accessToken
              ? callback(null, { user: auth.username })
              : callback(null, { data: { status: "401", schemes: "bearer" } })
          }
          const expected = users[auth.username ?? ""]
          const ok = expected !== undefined &&
            (auth.method === "CRAM-MD5" ? auth.validatePassword(expected) : auth.password === expected)
          return ok ? callback(null, { user: auth.username }) : callback(new Error("Invalid username or password"))
        },
        onRcptTo(address, _session, callback) {
          if (address.address.startsWith("reject")) {
            const error = new Error("5.1.1 No such user") as Error & { responseCode: number }
            error.responseCode = 550
            return callback(error)
          }
          callback()
        },
        onData(stream, session, callback) {
          const hash = Crypto.createHash("sha256")
          const chunks: Array<Buffer> = []
          let size = 0
          stream.on("data", (chunk: Buffer) => {
            hash.update(chunk)
            size += chunk.length
            if (size <= 1024 * 1024) chunks.push(chunk)
          })
          stream.on("end", () => {
            const envelope = session.envelope as typeof session.envelope & { smtpUtf8?: boolean; bodyType?: string }
            received.push({
              from: envelope.mailFrom === false ? "" : envelope.mailFrom.address,
              to: envelope.rcptTo.map((r) => r.address),
              size,
              sha256: hash.digest("hex"),
              data: size <= 1024 * 1024 ? Buffer.concat(chunks) : undefined,
              user: typeof session.user === "string" ? session.user : undefined,
              secure: session.secure,
              utf8: envelope.smtpUtf8 === true,
              body8bit: envelope.bodyType === "8bitmime"
            })
            callback(null)
          })
        },
        ...options
      })
      // A client that refuses the certificate makes the server emit 'error';
      // that is the behaviour under test, not a crash of the fixture.
      server.on("error", () => {})
      server.listen(0, "127.0.0.1", () => {
        const port = (server.server.address() as AddressInfo).port
        resume(Effect.succeed({
          server,
          running: {
            port,
            received,
            connections: Effect.callback<number>((done) => {
              server.server.getConnections((_: Error | null, count: number) => done(Effect.succeed(count)))
            })
          }
        }))
      })
    }),
    ({ server }) => Effect.callback<void>((resume) => server.close(() => resume(Effect.void)))
  ).pipe(Effect.map(({ running }) => running))
