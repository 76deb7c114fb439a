/**
 * A small SMTP server over implicit TLS whose AUTH is SCRAM-SHA-256 (and
 * -PLUS), written with node:crypto from RFC 5802 and RFC 9266 alone, so it
 * checks the client's proof and channel binding independently of the
 * client's code. It binds with its own side of the TLS session
 * (`exportKeyingMaterial`), which a man in the middle could not match. After
 * AUTH it accepts any message.
 */
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import type { AddressInfo } from "node:net"
import * as Tls from "node:tls"

export interface ScramLogin {
  readonly mechanism: string
  /** The GS2 channel-binding flag the client sent: "n", "y" or "p=<type>". */
  readonly flag: string
  /** The TLS version of the session. */
  readonly protocol: string | null
  readonly ok: boolean
}

export interface ScramServer {
  readonly port: number
  readonly logins: Array<ScramLogin>
}

const hmac = (key: Buffer, data: string | Buffer) => Crypto.createHmac("sha256", key).update(data).digest()
const sha256 = (data: Buffer) => Crypto.createHash("sha256").update(data).digest()

/** What the server stores for `password` (RFC 5802 §3). */
const stored = (password: string, salt: Buffer, iterations: number) => {
  const salted = Crypto.pbkdf2Sync(password, salt, iterations, 32, "sha256")
  return { storedKey: sha256(hmac(salted, "Client Key")), serverKey: hmac(salted, "Server Key") }
}

export const scramServer = (options: {
  readonly password: string
  readonly offer: ReadonlyArray<string>
  readonly maxVersion?: Tls.SecureVersion | undefined
}) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: Tls.Server; readonly running: ScramServer }>((resume) => {
      const { cert, key } = testCertificates()
      const salt = Crypto.randomBytes(16)
      const iterations = 4096
      const keys = stored(options.password, salt, iterations)
      const logins: Array<ScramLogin> = []
      const server = Tls.createServer({ key, cert, maxVersion: options.maxVersion ?? "TLSv1.3" }, (socket) => {
        socket.on("error", () => {})
        let buffer = ""
        let state: "command" | "data" | "client-final" | "after-proof" = "command"
        let exchange: { mechanism: string; flag: string; gs2: string; bare: string; serverFirst: string } | undefined
        const reply = (line: string) => socket.write(`${line}\r\n`)
        const onLine = (line: string) => {
          if (state === "data") {
            if (line === ".") {
              state = "command"
              reply("250 2.0.0 accepted")
            }
            return
          }
          if (state === "client-final" && exchange !== undefined) {
            const clientFinal = Buffer.from(line, "base64").toString()
            const withoutProof = clientFinal.slice(0, clientFinal.indexOf(",p="))
            const proof = Buffer.from(clientFinal.slice(clientFinal.indexOf(",p=") + 3), "base64")
            // The channel binding this server expects: its own view of the TLS session.
            const binding = exchange.flag.startsWith("p=")
              ? Buffer.concat([
                Buffer.from(exchange.gs2),
                socket.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0))
              ])
              : Buffer.from(exchange.gs2)
            const cbindOk = withoutProof.startsWith(`c=${binding.toString("base64")},`)
            const authMessage = `${exchange.bare},${exchange.serverFirst},${withoutProof}`
            const clientSignature = hmac(keys.storedKey, authMessage)
            const clientKey = Buffer.from(proof.map((b, i) => b ^ (clientSignature[i] ?? 0)))
            const ok = cbindOk && sha256(clientKey).equals(keys.storedKey)
            logins.push({ mechanism: exchange.mechanism, flag: exchange.flag, protocol: socket.getProtocol(), ok })
            if (!ok) {
              state = "command"
              return reply("535 5.7.8 authentication failed")
            }
            state = "after-proof"
            return reply(
              `334 ${Buffer.from(`v=${hmac(keys.serverKey, authMessage).toString("base64")}`).toString("base64")}`
            )
          }
          if (state === "after-proof") {
            state = "command"
            return reply("235 2.7.0 authenticated")
          }
          const verb = line.split(" ")[0]!.toUpperCase()
          if (verb === "EHLO") return reply(`250-localhost\r\n250 AUTH ${options.offer.join(" ")}`)
          if (verb === "AUTH") {
            const [, mechanism = "", initial = ""] = line.split(" ")
            const clientFirst = Buffer.from(initial, "base64").toString()
            // gs2-header: flag "," [authzid] ","
            const second = clientFirst.indexOf(",", clientFirst.indexOf(",") + 1)
            const gs2 = clientFirst.slice(0, second + 1)
            const bare = clientFirst.slice(second + 1)
            const clientNonce = /(?:^|,)r=([^,]*)/.exec(bare)?.[1] ?? ""
            const serverFirst = `r=${clientNonce}${Crypto.randomBytes(12).toString("base64")},s=${
              salt.toString("base64")
            },i=${iterations}`
            exchange = { mechanism, flag: gs2.slice(0, gs2.indexOf(",")), gs2, bare, serverFirst }
            state = "client-final"
            return reply(`334 ${Buffer.from(serverFirst).toString("base64")}`)
          }
          if (verb === "DATA") {
            state = "data"
            return reply("354 go ahead")
          }
          if (verb === "QUIT") {
            reply("221 bye")
            return socket.end()
          }
          return reply("250 ok")
        }
        socket.on("data", (chunk: Buffer) => {
          buffer += chunk.toString("latin1")
          let at: number
          while ((at = buffer.indexOf("\r\n")) !== -1) {
            const line = buffer.slice(0, at)
            buffer = buffer.slice(at + 2)
            onLine(line)
          }
        })
        reply("220 localhost SCRAM test server")
      })
      server.on("tlsClientError", () => {})
      server.listen(0, "127.0.0.1", () => {
        resume(Effect.succeed({ server, running: { port: (server.address() as AddressInfo).port, logins } }))
      })
    }),
    ({ server }) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
  ).pipe(Effect.map(({ running }) => running))
