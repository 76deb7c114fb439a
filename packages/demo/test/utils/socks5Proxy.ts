/**
 * A SOCKS5 proxy with username and password (RFC 1928, RFC 1929) on
 * loopback, for the README's proxy block.
 */
import * as Effect from "effect/Effect"
import type { AddressInfo } from "node:net"
import * as Net from "node:net"

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
