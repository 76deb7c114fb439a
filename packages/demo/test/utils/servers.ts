/**
 * Local servers the documentation's blocks are run against: smtp-server
 * (npm) on loopback with the test CA's `localhost` certificate, and a SOCKS5
 * proxy with username and password (RFC 1928, RFC 1929) for the proxy block.
 */
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import * as Effect from "effect/Effect"
import type { AddressInfo } from "node:net"
import * as Net from "node:net"
import { SMTPServer, type SMTPServerOptions } from "smtp-server"

export interface Received {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly data: string
  readonly user: string | undefined
  readonly secure: boolean
}

export interface Running {
  readonly port: number
  readonly ca: string
  readonly received: Array<Received>
  /** The most connections open at once. */
  readonly maxConnections: () => number
}

export interface Credentials {
  readonly passwords?: Readonly<Record<string, string>> | undefined
  readonly tokens?: Readonly<Record<string, string>> | undefined
}

/** Recipients starting with "reject" are refused with 550 5.1.1. */
export const smtpServer = (credentials: Credentials = {}, options: Partial<SMTPServerOptions> = {}) =>
  Effect.acquireRelease(
    Effect.callback<{ server: SMTPServer; running: Running }>((resume) => {
      const { ca, cert, key } = testCertificates()
      const received: Array<Received> = []
      let open = 0
      let most = 0
      const tlsOptions: { key: string; cert: string } = { key, cert }
      const server = new SMTPServer({
        ...tlsOptions,
        authOptional: true,
        authMethods: ["PLAIN", "LOGIN", "XOAUTH2"],
        logger: false,
        disableReverseLookup: true,
        // Closing does not wait 30 seconds for a connection a block left open.
        closeTimeout: 500,
        onConnect(_session, callback) {
          open++
          most = Math.max(most, open)
          callback()
        },
        onClose() {
          open--
        },
        onAuth(auth, _session, callback) {
          const user = auth.username ?? ""
          if (auth.method === "XOAUTH2") {
            return credentials.tokens?.[user] === auth.accessToken
              ? callback(null, { user })
              : callback(null, { data: { status: "401", schemes: "bearer" } })
          }
          return credentials.passwords?.[user] === auth.password
            ? callback(null, { user })
            : callback(new Error("Invalid username or password"))
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
          const chunks: Array<Buffer> = []
          stream.on("data", (chunk: Buffer) => chunks.push(chunk))
          stream.on("end", () => {
            received.push({
              from: session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address,
              to: session.envelope.rcptTo.map((r) => r.address),
              data: Buffer.concat(chunks).toString("utf8"),
              user: typeof session.user === "string" ? session.user : undefined,
              secure: session.secure
            })
            callback(null)
          })
        },
        ...options
      })
      server.on("error", () => {})
      server.listen(0, "127.0.0.1", () => {
        const port = (server.server.address() as AddressInfo).port
        resume(Effect.succeed({ server, running: { port, ca, received, maxConnections: () => most } }))
      })
    }),
    ({ server }) => Effect.callback<void>((resume) => server.close(() => resume(Effect.void)))
  ).pipe(Effect.map(({ running }) => running))

export interface Socks5Proxy {
  readonly port: number
  /** The destinations asked for (`host:port`), with the user that asked. */
  readonly connects: Array<{ readonly user: string; readonly destination: string }>
}

/**
 * A SOCKS5 proxy that requires username/password authentication and
 * resolves the destination itself (ATYP 3, a domain name, as socks5h asks).
 */
export const socks5Proxy = (user: string, password: string) =>
  Effect.acquireRelease(
    Effect.callback<{ server: Net.Server; sockets: Set<Net.Socket>; proxy: Socks5Proxy }>((resume) => {
      const connects: Array<{ user: string; destination: string }> = []
      const sockets = new Set<Net.Socket>()
      const track = (socket: Net.Socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      }
      const server = Net.createServer((client) => {
        track(client)
        client.on("error", () => {})
        let buffer = Buffer.alloc(0)
        let stage: "greeting" | "auth" | "request" = "greeting"
        let who = ""
        const onData = (chunk: Buffer) => {
          buffer = Buffer.concat([buffer, chunk])
          if (stage === "greeting" && buffer.length >= 2 && buffer.length >= 2 + buffer[0 + 1]!) {
            const methods = buffer.subarray(2, 2 + buffer[1]!)
            buffer = buffer.subarray(2 + buffer[1]!)
            if (!methods.includes(2)) return client.end(Buffer.from([5, 0xff]))
            client.write(Buffer.from([5, 2]))
            stage = "auth"
          }
          if (stage === "auth" && buffer.length >= 2) {
            const ulen = buffer[1]!
            if (buffer.length < 3 + ulen) return
            const plen = buffer[2 + ulen]!
            if (buffer.length < 3 + ulen + plen) return
            who = buffer.subarray(2, 2 + ulen).toString()
            const pass = buffer.subarray(3 + ulen, 3 + ulen + plen).toString()
            buffer = buffer.subarray(3 + ulen + plen)
            if (who !== user || pass !== password) return client.end(Buffer.from([1, 1]))
            client.write(Buffer.from([1, 0]))
            stage = "request"
          }
          if (stage === "request" && buffer.length >= 5 && buffer[3] === 3) {
            const len = buffer[4]!
            if (buffer.length < 5 + len + 2) return
            const host = buffer.subarray(5, 5 + len).toString()
            const port = buffer.readUInt16BE(5 + len)
            const rest = buffer.subarray(5 + len + 2)
            client.off("data", onData)
            connects.push({ user: who, destination: `${host}:${port}` })
            const upstream = Net.connect(port, host === "localhost" ? "127.0.0.1" : host, () => {
              client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]))
              if (rest.length > 0) upstream.write(rest)
              client.pipe(upstream).pipe(client)
            })
            track(upstream)
            upstream.on("error", () => client.end(Buffer.from([5, 4, 0, 1, 0, 0, 0, 0, 0, 0])))
          }
        }
        client.on("data", onData)
      })
      server.listen(0, "127.0.0.1", () => {
        resume(Effect.succeed({ server, sockets, proxy: { port: (server.address() as AddressInfo).port, connects } }))
      })
    }),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        // Tunnels a client left open do not hold the test up.
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ proxy }) => proxy))
