/**
 * The one wrapper of npm's `smtp-server` the workspace's tests use: a real
 * server on 127.0.0.1 for the duration of a scope, with the test CA's
 * `localhost` certificate, AUTH for alice (or the credentials given), and a
 * record of every message, connection and MAIL FROM it saw.
 */
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import type { AddressInfo, Socket } from "node:net"
import { SMTPServer, type SMTPServerOptions } from "smtp-server"

/** Bodies up to this size are kept whole; bigger ones are only counted and hashed. */
const kept = 1024 * 1024

export interface ReceivedMail {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly size: number
  readonly sha256: string
  /** The body, for messages up to 1 MiB (bigger ones are only hashed). */
  readonly data: Buffer | undefined
  /** `data` as UTF-8 text ("" for a body over 1 MiB). */
  readonly text: string
  readonly user: string | undefined
  readonly secure: boolean
  readonly utf8: boolean
  readonly body8bit: boolean
  /** `performance.now()` when the final dot arrived. */
  readonly at: number
}

export interface RunningSmtpServer {
  readonly port: number
  /** The CA that issued the server's certificate, for the client's `tls.ca`. */
  readonly ca: string
  readonly received: Array<ReceivedMail>
  /** Connections currently open on the server. */
  readonly connections: Effect.Effect<number>
  /** The most connections open at once. */
  readonly maxConnections: () => number
  /** `performance.now()` of every MAIL FROM, across connections. */
  readonly mailFrom: Array<number>
  /** Every open socket reset (RST) or ended (FIN), as a server dropping idle connections does. */
  readonly drop: (how: "reset" | "end") => Effect.Effect<void>
  /**
   * Every open socket reset and the listener closed, as a crash or a restart
   * does: a new server may then listen on `port`.
   */
  readonly crash: Effect.Effect<void>
}

/** Alice's password, the default `passwords`. */
export const users: Readonly<Record<string, string>> = { alice: "correct horse battery staple" }
/** Alice's XOAUTH2 token, the default `tokens`. */
export const tokens: Readonly<Record<string, string>> = { alice: "ya29.test-token" }

/** What the wrapper adds to smtp-server's own options. */
export interface Fixture {
  /** User → password for PLAIN, LOGIN and CRAM-MD5 (default `users`). */
  readonly passwords?: Readonly<Record<string, string>>
  /** User → XOAUTH2 token (default `tokens`). */
  readonly tokens?: Readonly<Record<string, string>>
  /** The port to listen on (default 0: any free one). */
  readonly port?: number
  /** Milliseconds the final reply is held back, drawn per message (widens the window after the dot). */
  readonly replyDelay?: () => number
}

/**
 * Recipients starting with "reject" are refused with 550 5.1.1. Any of
 * smtp-server's options may be given and win over the fixture's; a hook given
 * here (`onData`, `onMailFrom`, `onConnect`) replaces the one that feeds the
 * matching record.
 */
export const smtpServer = (options: Fixture & Partial<SMTPServerOptions> = {}) => {
  const { passwords = users, tokens: bearer = tokens, port = 0, replyDelay, ...smtp } = options
  return Effect.acquireRelease(
    Effect.callback<{ readonly running: RunningSmtpServer; readonly close: Effect.Effect<void> }>((resume) => {
      const { ca, cert, key } = testCertificates()
      const received: Array<ReceivedMail> = []
      const mailFrom: Array<number> = []
      const sockets = new Set<Socket>()
      let most = 0
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
        // Closing does not wait 30 seconds for a connection a test left open.
        closeTimeout: 500,
        onAuth(auth, _session, callback) {
          const user = auth.username ?? ""
          if (auth.method === "XOAUTH2") {
            return bearer[user] === auth.accessToken
              ? callback(null, { user })
              : callback(null, { data: { status: "401", schemes: "bearer" } })
          }
          const expected = passwords[user]
          const ok = expected !== undefined &&
            (auth.method === "CRAM-MD5" ? auth.validatePassword(expected) : auth.password === expected)
          return ok ? callback(null, { user }) : callback(new Error("Invalid username or password"))
        },
        onMailFrom(_address, _session, callback) {
          mailFrom.push(performance.now())
          callback()
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
            if (size <= kept) chunks.push(chunk)
          })
          stream.on("end", () => {
            const envelope = session.envelope as typeof session.envelope & { smtpUtf8?: boolean; bodyType?: string }
            const data = size <= kept ? Buffer.concat(chunks) : undefined
            received.push({
              from: envelope.mailFrom === false ? "" : envelope.mailFrom.address,
              to: envelope.rcptTo.map((r) => r.address),
              size,
              sha256: hash.digest("hex"),
              data,
              text: data?.toString("utf8") ?? "",
              user: typeof session.user === "string" ? session.user : undefined,
              secure: session.secure,
              utf8: envelope.smtpUtf8 === true,
              body8bit: envelope.bodyType === "8bitmime",
              at: performance.now()
            })
            const delay = replyDelay?.() ?? 0
            if (delay > 0) setTimeout(() => callback(null), delay)
            else callback(null)
          })
        },
        ...smtp
      })
      // A client that refuses the certificate makes the server emit 'error';
      // that is the behaviour under test, not a crash of the fixture.
      server.on("error", () => {})
      // Counted by the listener itself: a socket upgraded by STARTTLS emits
      // no 'close' of its own, the server's count still goes down.
      const connections = Effect.callback<number>((done) => {
        server.server.getConnections((_: Error | null, count: number) => done(Effect.succeed(count)))
      })
      server.server.on("connection", (socket: Socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        server.server.getConnections((_: Error | null, count: number) => {
          most = Math.max(most, count)
        })
      })
      let closed = false
      // Once: `crash` and the scope's end both close it.
      const close = Effect.callback<void>((done) => {
        if (closed) return done(Effect.void)
        closed = true
        server.close(() => done(Effect.void))
      })
      const drop = (how: "reset" | "end") =>
        Effect.sync(() => {
          for (const socket of sockets) {
            if (how === "reset") socket.resetAndDestroy()
            else socket.end()
          }
        })
      server.listen(port, "127.0.0.1", () => {
        resume(Effect.succeed({
          close,
          running: {
            port: (server.server.address() as AddressInfo).port,
            ca,
            received,
            mailFrom,
            maxConnections: () => most,
            connections,
            drop,
            crash: Effect.andThen(drop("reset"), close)
          }
        }))
      })
    }),
    ({ close }) => close
  ).pipe(Effect.map(({ running }) => running))
}
