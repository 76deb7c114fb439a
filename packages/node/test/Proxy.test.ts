/**
 * Mail through real proxies: Dante (SOCKS5, without and with username and
 * password) and tinyproxy (HTTP CONNECT), started by scripts/services/dante.sh
 * and tinyproxy.sh, in front of `smtp-server` on loopback; plaintext,
 * STARTTLS and implicit TLS through the tunnel; a wrong password, a target the
 * proxy refuses by rule, a closed port behind the proxy. And, without any
 * service: a proxy that stalls (TestClock), a proxy that is down, an unusable
 * proxy URL and SMTP_PROXY.
 */
import { SmtpClient, type SmtpError } from "@effect-smtp/client"
import * as SmtpTelemetry from "@effect-smtp/client/SmtpTelemetry"
import { NodeSmtp, type NodeSocket } from "@effect-smtp/node"
import { smtpServer } from "@effect-smtp/test-utils/smtpServer"
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/testing/TestClock"
import * as Net from "node:net"
import { recorder } from "./utils/recordingMetrics.js"
import { type HostPort, type ProxyService, proxyService, startHint } from "./utils/services.js"
import { eventually, serve, untilSleeping } from "./utils/sockets.js"

const dante = proxyService("EFFECT_SMTP_SOCKS5")
const tinyproxy = proxyService("EFFECT_SMTP_HTTP_PROXY")

type Scheme = "socks5" | "socks5h" | "http"

const proxyUrl = (scheme: Scheme, at: HostPort, auth?: { readonly user: string; readonly password: string }) =>
  Redacted.make(
    `${scheme}://${
      auth === undefined ? "" : `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@`
    }${at.host}:${at.port}`
  )

const message = (subject: string) => `From: a@example.com\r\nTo: b@example.com\r\nSubject: ${subject}\r\n\r\nHello.\r\n`

/**
 * "mail.test" resolves to 127.0.0.1 only through this lookup, so a send to it
 * works through socks5 only if the name was resolved here, not by the proxy.
 */
const localLookup = (host: string) =>
  host === "mail.test" ? Effect.succeed([{ address: "127.0.0.1", family: 4 as const }]) : Effect.die(`lookup ${host}`)

/** Sends one message to `options` through `socketOptions`' proxy, recording the metrics. */
const sendVia = (
  socketOptions: NodeSocket.NodeSocketOptions,
  options: SmtpClient.Options,
  subject = "through a proxy"
) => {
  const metrics = recorder()
  const client = NodeSmtp.layerWithMetrics(options, socketOptions).pipe(Layer.provide(metrics.layer))
  return {
    metrics,
    send: SmtpClient.send({ from: "a@example.com", to: ["b@example.com"], content: message(subject) }).pipe(
      Effect.provide(client)
    )
  }
}

const proxyErrorOf = (error: SmtpError.SmtpError) => {
  expect(error._tag).toBe("ProxyError")
  return error as SmtpError.ProxyError
}

/** A port on 127.0.0.1 that nothing listens on (it was just released). */
const closedPort = Effect.callback<number>((resume) => {
  const server = Net.createServer().listen(0, "127.0.0.1", () => {
    const address = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(address.port)))
  })
})

const trusted = () => ({ ca: testCertificates().ca, servername: "localhost" })

/**
 * The cases every proxy must pass. `scheme` decides who resolves the SMTP
 * server's name: socks5 here (through `localLookup`), socks5h and http at the
 * proxy (so the host is "localhost", which the proxy resolves).
 */
const proxySuite = (scheme: Scheme, service: ProxyService) => {
  const host = scheme === "socks5" ? "mail.test" : "localhost"
  const socketOptions = (auth?: { readonly user: string; readonly password: string }, at = service.open) => ({
    proxy: proxyUrl(scheme, auth === undefined ? at : service.auth, auth),
    lookup: localLookup,
    family: 4 as const
  })

  it.effect("plaintext: the message arrives, and the metrics say the TCP peer is the proxy", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const { metrics, send } = sendVia(socketOptions(), { host, port: server.port, security: "none" })
      const result = yield* send
      expect(result.accepted).toEqual(["b@example.com"])
      expect(server.received).toHaveLength(1)
      expect(server.received[0]!.secure).toBe(false)
      // One TCP connect, to the proxy: its name, its port, its IP.
      expect(metrics.socketConnect().map((event) => [event.serverAddress, event.serverPort, event.peerAddress]))
        .toEqual([[service.open.host, service.open.port, service.open.host]])
      // The client instruments name the SMTP server, with the proxy's IP as the peer.
      const connect = metrics.clientConnect()
      expect(connect.map((event) => [event.serverAddress, event.serverPort, event.peerAddress, event.outcome._tag]))
        .toEqual([[host, server.port, service.open.host, "Success"]])
    }))

  it.effect("STARTTLS through the tunnel, verified against the SMTP server's name", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer()
      const { send } = sendVia(socketOptions(), { host, port: server.port, security: "starttls", tls: trusted() })
      yield* send
      expect(server.received[0]!.secure).toBe(true)
    }))

  it.effect("implicit TLS through the tunnel", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ secure: true })
      const { send } = sendVia(socketOptions(), { host, port: server.port, security: "tls", tls: trusted() })
      yield* send
      expect(server.received[0]!.secure).toBe(true)
    }))

  it.effect("with the right user name and password", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const { send } = sendVia(socketOptions({ user: service.user, password: service.password }), {
        host,
        port: server.port,
        security: "none"
      })
      yield* send
      expect(server.received).toHaveLength(1)
    }))

  it.effect("a wrong password is a ProxyError (AuthenticationFailed), not retryable, without the password", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const wrong = "Wr0ng:pass@word"
      const { metrics, send } = sendVia(socketOptions({ user: service.user, password: wrong }), {
        host,
        port: server.port,
        security: "none"
      })
      const error = proxyErrorOf(yield* Effect.flip(send))
      expect(error.reason).toBe("AuthenticationFailed")
      expect(error.retryable).toBe(false)
      expect(error.proxy).toBe(`${service.auth.host}:${service.auth.port}`)
      expect(error.message).toContain("refused the credentials")
      expect(error.message).not.toContain(wrong)
      expect(JSON.stringify(metrics.attributes())).not.toContain(wrong)
      expect(server.received).toHaveLength(0)
      // The proxy was reached: its TCP connect succeeded; the client connect failed as ProxyError.
      expect(metrics.socketConnect().map((event) => event.outcome._tag)).toEqual(["Success"])
      expect(metrics.clientConnect().map((event) => SmtpTelemetry.outcomeAttributes(event.outcome))).toEqual([
        { "error.type": "ProxyError" }
      ])
    }))

  it.effect("no credentials where the proxy requires them is a ProxyError (AuthenticationFailed)", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const { send } = sendVia({ ...socketOptions(), proxy: proxyUrl(scheme, service.auth) }, {
        host,
        port: server.port,
        security: "none"
      })
      const error = proxyErrorOf(yield* Effect.flip(send))
      expect(error.reason).toBe("AuthenticationFailed")
    }))

  it.effect("a destination the proxy's rules refuse is a ProxyError (Refused), not retryable", () =>
    Effect.gen(function*() {
      const { send } = sendVia({ ...socketOptions(), lookup: undefined }, {
        host: service.deniedHost,
        port: 25,
        security: "none"
      })
      const error = proxyErrorOf(yield* Effect.flip(send))
      expect(error.reason).toBe("Refused")
      expect(error.retryable).toBe(false)
      expect(error.host).toBe(service.deniedHost)
      expect(error.message).toContain(`refused to open a tunnel to ${service.deniedHost}:25`)
    }))

  it.effect("a closed port behind the proxy is a ProxyError (TargetUnreachable), retryable", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const { send } = sendVia(socketOptions(), { host, port, security: "none" })
      const error = proxyErrorOf(yield* Effect.flip(send))
      expect(error.reason).toBe("TargetUnreachable")
      expect(error.retryable).toBe(true)
      expect(error.message).toContain(`could not connect to ${host}:${port}`)
    }))
}

describe("through Dante (SOCKS5)", () => {
  if (dante === undefined) {
    it.skip(startHint("dante", "EFFECT_SMTP_SOCKS5"), () => {})
    return
  }
  describe("socks5h: the proxy resolves the name", () => proxySuite("socks5h", dante))
  describe("socks5: the name is resolved here", () => proxySuite("socks5", dante))

  it.effect("socks5h sends the name itself: a name only this client can resolve fails at the proxy", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const { send } = sendVia(
        { proxy: proxyUrl("socks5h", dante.open), lookup: localLookup },
        { host: "mail.test", port: server.port, security: "none" }
      )
      const error = proxyErrorOf(yield* Effect.flip(send))
      expect(error.reason).toBe("TargetUnreachable")
    }))
})

describe("through tinyproxy (HTTP CONNECT)", () => {
  if (tinyproxy === undefined) {
    it.skip(startHint("tinyproxy", "EFFECT_SMTP_HTTP_PROXY"), () => {})
    return
  }
  proxySuite("http", tinyproxy)
})

/**
 * A minimal SOCKS5 relay (no authentication, IPv4 and names) listening on
 * `host`, so the proxy's address differs from the SMTP server's.
 */
const relayOn = (host: string) =>
  serve(
    Net.createServer((client) => {
      client.once("data", () => {
        client.write(Uint8Array.of(5, 0))
        client.once("data", (request: Buffer) => {
          const atyp = request[3]
          const target = atyp === 1
            ? Array.from(request.subarray(4, 8)).join(".")
            : request.subarray(5, 5 + request[4]!).toString()
          const port = request.readUInt16BE(request.length - 2)
          const upstream = Net.connect({ host: target, port }, () => {
            client.write(Uint8Array.of(5, 0, 0, 1, 0, 0, 0, 0, 0, 0))
            client.pipe(upstream).pipe(client)
          })
          upstream.on("error", () => client.destroy())
          client.on("close", () => upstream.destroy())
        })
      })
    }),
    host
  )

describe("without a proxy service", () => {
  it.effect("network.peer.address is the proxy's IP, not the SMTP server's", () =>
    Effect.gen(function*() {
      const relay = yield* relayOn("127.0.0.5")
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const { metrics, send } = sendVia(
        { proxy: proxyUrl("socks5h", { host: "127.0.0.5", port: relay.port }) },
        { host: "127.0.0.1", port: server.port, security: "none" }
      )
      yield* send
      expect(server.received).toHaveLength(1)
      expect(metrics.socketConnect().map((event) => [event.serverAddress, event.serverPort, event.peerAddress]))
        .toEqual([["127.0.0.5", relay.port, "127.0.0.5"]])
      const facts = [...metrics.clientConnect(), ...metrics.messageSend(), ...metrics.connectionEnd()]
      expect(facts).toHaveLength(3)
      for (const event of facts) {
        expect([event.serverAddress, event.serverPort, event.peerAddress]).toEqual([
          "127.0.0.1",
          server.port,
          "127.0.0.5"
        ])
      }
    }))

  it.effect("a proxy that accepts and never answers times out on the TestClock (ProxyError Timeout)", () =>
    Effect.gen(function*() {
      let greeted = false
      const stall = yield* serve(Net.createServer((socket) => socket.on("data", () => void (greeted = true))))
      const { send } = sendVia(
        { proxy: proxyUrl("socks5", { host: "127.0.0.1", port: stall.port }) },
        { host: "127.0.0.1", port: 25, security: "none", timeout: "10 seconds" }
      )
      const fiber = yield* Effect.forkChild(Effect.flip(send))
      yield* eventually(() => greeted, "the SOCKS5 greeting at the stalling proxy")
      yield* untilSleeping(1)
      yield* TestClock.adjust("9 seconds")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 second")
      const error = proxyErrorOf(yield* Fiber.join(fiber))
      expect(error.reason).toBe("Timeout")
      expect(error.retryable).toBe(true)
      expect(error.message).toContain("Timed out after 10s waiting for the SOCKS5 proxy")
      expect(error.message).toContain("the proxy accepted the connection and did not answer")
    }))

  it.effect("a proxy that is down is a ProxyError (Unreachable) with the OS code, and socket.error in the metrics", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const { metrics, send } = sendVia(
        { proxy: proxyUrl("http", { host: "127.0.0.1", port }) },
        { host: "127.0.0.1", port: server.port, security: "none" }
      )
      const error = proxyErrorOf(yield* Effect.flip(send))
      expect(error.reason).toBe("Unreachable")
      expect(error.code).toBe("ECONNREFUSED")
      expect(error.retryable).toBe(true)
      expect(error.message).toContain(`Could not connect to the HTTP proxy at 127.0.0.1:${port} (ECONNREFUSED)`)
      // The SMTP server itself was up: nothing went around the proxy.
      expect(server.received).toHaveLength(0)
      expect(metrics.socketConnect().map((event) => [event.serverPort, event.outcome._tag])).toEqual([
        [port, "Failure"]
      ])
      expect(metrics.clientConnect().map((event) => SmtpTelemetry.outcomeAttributes(event.outcome))).toEqual([
        { "error.type": "ProxyError", "socket.error": 10061 }
      ])
    }))

  it.effect("a server that speaks first through an implicit-TLS tunnel is a TlsError, as without a proxy", () =>
    Effect.gen(function*() {
      // A fake SOCKS5 proxy that opens the "tunnel" and plays a plaintext SMTP server behind it.
      const fake = yield* serve(Net.createServer((socket) => {
        let step = 0
        socket.on("data", () => {
          step++
          if (step === 1) socket.write(Uint8Array.of(5, 0))
          if (step === 2) {
            socket.write(Buffer.concat([Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 25]), Buffer.from("220 hi\r\n")]))
          }
        })
      }))
      const { send } = sendVia(
        { proxy: proxyUrl("socks5", { host: "127.0.0.1", port: fake.port }) },
        { host: "127.0.0.1", port: 465, security: "tls", tls: trusted() }
      )
      const error = yield* Effect.flip(send)
      expect(error._tag).toBe("TlsError")
      expect(error.message).toContain("check that the port speaks TLS")
    }))

  it.effect("an unusable proxy URL fails every send with InvalidInputError (field proxy), never echoing it", () =>
    Effect.gen(function*() {
      const { send } = sendVia({ proxy: "socks4://user:hunter2@proxy:1080" }, { host: "127.0.0.1", port: 25 })
      const error = yield* Effect.flip(send)
      expect(error._tag).toBe("InvalidInputError")
      expect(error.message).toContain("Invalid proxy")
      expect(error.message).not.toContain("hunter2")
    }))

  it.effect("SMTP_PROXY: a malformed URL is a ConfigError naming the variable, never its value", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        SmtpClient.send({ from: "a@example.com", to: ["b@example.com"], content: message("config") }).pipe(
          Effect.provide(NodeSmtp.layerConfig()),
          Effect.provideService(
            ConfigProvider.ConfigProvider,
            ConfigProvider.fromEnv({ env: { SMTP_HOST: "127.0.0.1", SMTP_PROXY: "ftp://u:hunter2@proxy:21" } })
          )
        )
      )
      expect(String(error)).toContain("SMTP_PROXY")
      expect(String(error)).not.toContain("hunter2")
    }))

  it.effect("SMTP_PROXY is used by NodeSmtp.layerConfig: a proxy that is down fails the send", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const env = {
        SMTP_HOST: "127.0.0.1",
        SMTP_PORT: String(server.port),
        SMTP_SECURITY: "none",
        SMTP_PROXY: `socks5h://127.0.0.1:${port}`
      }
      const error = yield* Effect.flip(
        SmtpClient.send({ from: "a@example.com", to: ["b@example.com"], content: message("config") }).pipe(
          Effect.provide(NodeSmtp.layerConfig()),
          Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
        )
      )
      expect(error._tag).toBe("ProxyError")
      expect(server.received).toHaveLength(0)
    }))
})
