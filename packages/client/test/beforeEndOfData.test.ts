import { SmtpClient, SmtpError, SmtpMetrics, SmtpProtocol, Socket } from "@effect-smtp/client"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

class HookFailed extends Data.TaggedError("HookFailed")<{ readonly attempt: number }> {}

/** Every byte the client wrote, in order, and how many connections it opened. */
interface Wire {
  readonly written: Array<string>
  connections: number
  readonly text: () => string
}

const makeWire = (): Wire => {
  const written: Array<string> = []
  return { written, connections: 0, text: () => written.join("") }
}

/** `TestSocket.layer(script)` with every client write recorded on `wire`. */
const recorded = (wire: Wire, script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>) =>
  Layer.effect(
    Socket,
    Effect.map(Socket, (inner) => ({
      connect: (options) =>
        Effect.map(inner.connect(options), (connection) => {
          wire.connections++
          return {
            ...connection,
            write: (data: Uint8Array, timeout?: Parameters<typeof connection.write>[1]) =>
              Effect.andThen(
                Effect.sync(() => wire.written.push(decoder.decode(data))),
                connection.write(data, timeout)
              )
          }
        })
    }))
  ).pipe(Layer.provide(TestSocket.layer(script)))

const clientLayer = (
  wire: Wire,
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  options: Partial<SmtpClient.Options> = {}
) =>
  SmtpClient.layer({ host: "mail.test", port: 25, security: "none", timeout: "1 minute", ...options }).pipe(
    Layer.provide(SmtpProtocol.layer),
    Layer.provide(recorded(wire, script)),
    Layer.provide(SmtpMetrics.layerNoop)
  )

const body = "Subject: hook\r\nMessage-ID: <hook@example.com>\r\n\r\nfirst line\r\nsecond line\r\n"
const mail = (content: SmtpClient.Mail["content"]): SmtpClient.Mail => ({
  from: "a@example.com",
  to: ["b@example.com"],
  content
})
const streamed = Stream.make(encoder.encode("Subject: hook\r\n\r\nfirst line\r\n"), encoder.encode("second line\r\n"))

/** What the wire held when the hook ran, per run. */
const snapshotHook = (wire: Wire, seen: Array<string>) => Effect.sync(() => void seen.push(wire.text()))

describe("SmtpClient.send(mail, { beforeEndOfData })", () => {
  it.effect("DATA, one buffer: the hook runs after the 354 and before any byte of the message", () =>
    Effect.gen(function*() {
      const wire = makeWire()
      const server = TestSocket.smtpServer()
      const seen: Array<string> = []
      const result = yield* SmtpClient.send(mail(body), { beforeEndOfData: snapshotHook(wire, seen) }).pipe(
        Effect.provide(clientLayer(wire, server.script))
      )
      expect(result.accepted).toEqual(["b@example.com"])
      expect(seen).toHaveLength(1)
      expect(seen[0]).toContain("DATA\r\n")
      expect(seen[0]).not.toContain("Subject: hook")
      expect(wire.text()).toContain("second line\r\n.\r\n")
      expect(server.received).toHaveLength(1)
    }))

  it.effect("DATA, streamed: the hook runs after the body and before the final dot", () =>
    Effect.gen(function*() {
      const wire = makeWire()
      const server = TestSocket.smtpServer()
      const seen: Array<string> = []
      yield* SmtpClient.send(mail(streamed), { beforeEndOfData: snapshotHook(wire, seen) }).pipe(
        Effect.provide(clientLayer(wire, server.script))
      )
      expect(seen).toHaveLength(1)
      expect(seen[0]).toContain("first line\r\n")
      expect(seen[0]).not.toContain("\r\n.\r\n")
      expect(wire.text()).toContain("second line\r\n.\r\n")
      expect(server.received).toHaveLength(1)
    }))

  it.effect("BDAT, streamed: the hook runs after the earlier chunks and before BDAT LAST", () =>
    Effect.gen(function*() {
      const wire = makeWire()
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING", "CHUNKING", "8BITMIME"] })
      const seen: Array<string> = []
      yield* SmtpClient.send(mail(streamed), { beforeEndOfData: snapshotHook(wire, seen) }).pipe(
        Effect.provide(clientLayer(wire, server.script))
      )
      expect(seen).toHaveLength(1)
      expect(seen[0]).toMatch(/BDAT \d+\r\nSubject: hook/)
      expect(seen[0]).not.toContain("LAST")
      expect(wire.text()).toMatch(/BDAT \d+ LAST\r\nsecond line/)
      expect(server.received.map((m) => m.via)).toEqual(["BDAT"])
    }))

  it.effect("BDAT, one buffer: the hook runs before the one BDAT LAST chunk", () =>
    Effect.gen(function*() {
      const wire = makeWire()
      const server = TestSocket.smtpServer({ capabilities: ["PIPELINING", "CHUNKING"] })
      const seen: Array<string> = []
      yield* SmtpClient.send(mail(body), { beforeEndOfData: snapshotHook(wire, seen) }).pipe(
        Effect.provide(clientLayer(wire, server.script))
      )
      expect(seen).toHaveLength(1)
      expect(seen[0]).toContain("RCPT TO:<b@example.com>")
      expect(seen[0]).not.toContain("BDAT")
      expect(server.received).toHaveLength(1)
    }))

  it.effect("a failing hook: the end is never written, the send fails with its error, the connection closes", () =>
    Effect.gen(function*() {
      for (const content of [body, streamed]) {
        const wire = makeWire()
        const server = TestSocket.smtpServer()
        const error = yield* SmtpClient.send(mail(content), { beforeEndOfData: new HookFailed({ attempt: 1 }) }).pipe(
          Effect.flip,
          Effect.provide(clientLayer(wire, server.script))
        )
        expect(error).toEqual(new HookFailed({ attempt: 1 }))
        expect(wire.text()).not.toContain("\r\n.\r\n")
        expect(server.received).toHaveLength(0)
        // Closed mid-message: no QUIT, which the server would take as body text.
        expect(server.commands).not.toContain("QUIT")
      }
    }))

  it.effect("a failing hook is never retried by the client's retry policy; a retryable failure runs it again", () =>
    Effect.gen(function*() {
      // First transaction: 451 after the end (retryable); second: accepted.
      const wire = makeWire()
      let transactions = 0
      const server = TestSocket.smtpServer()
      const script = (side: TestSocket.ServerSide) =>
        server.script({
          ...side,
          send: (data) =>
            typeof data === "string" && data.startsWith("250 2.0.0 Ok") && ++transactions === 1
              ? side.send("451 4.3.0 try again\r\n")
              : side.send(data)
        })
      const layer = clientLayer(wire, script, { retry: Schedule.recurs(3) })
      let runs = 0
      const result = yield* SmtpClient.send(mail(body), { beforeEndOfData: Effect.sync(() => void runs++) }).pipe(
        Effect.provide(layer)
      )
      expect(result.accepted).toEqual(["b@example.com"])
      expect(runs).toBe(2)

      let failures = 0
      const failed = yield* SmtpClient.send(mail(body), {
        beforeEndOfData: Effect.suspend(() => Effect.fail(new HookFailed({ attempt: ++failures })))
      }).pipe(
        Effect.flip,
        Effect.provide(clientLayer(makeWire(), TestSocket.smtpServer().script, { retry: Schedule.recurs(3) }))
      )
      expect(failed).toEqual(new HookFailed({ attempt: 1 }))
      expect(failures).toBe(1)
    }))

  it.effect("pooled: the hook runs once per message; after a failing one the next send gets a fresh connection", () =>
    Effect.gen(function*() {
      const wire = makeWire()
      const server = TestSocket.smtpServer()
      const context = yield* Layer.build(clientLayer(wire, server.script, { pool: { maxConnections: 1 } }))
      const client = yield* Effect.provide(SmtpClient, context)
      const runs: Array<string> = []
      const hook = (name: string) => Effect.sync(() => void runs.push(name))
      yield* Effect.all([
        client.send(mail(body), { beforeEndOfData: hook("one") }),
        client.send(mail(body), { beforeEndOfData: hook("two") })
      ], { concurrency: "unbounded" })
      expect(runs.sort()).toEqual(["one", "two"])
      expect(wire.connections).toBe(1)

      const error = yield* Effect.flip(client.send(mail(body), { beforeEndOfData: new HookFailed({ attempt: 1 }) }))
      expect(error).toBeInstanceOf(HookFailed)
      yield* client.send(mail(body), { beforeEndOfData: hook("three") })
      expect(wire.connections).toBe(2)
      expect(server.received).toHaveLength(3)
      expect(runs).toContain("three")
    }))

  it.effect("without a hook nothing changes: a drop after the end is still DeliveryUnknownError", () =>
    Effect.gen(function*() {
      const wire = makeWire()
      const script = (side: TestSocket.ServerSide) =>
        Effect.gen(function*() {
          yield* side.send("220 hi\r\n")
          yield* side.readLine
          yield* side.send("250 hi\r\n")
          for (let i = 0; i < 2; i++) {
            yield* side.readLine
            yield* side.send("250 ok\r\n")
          }
          yield* side.readLine
          yield* side.send("354 go\r\n")
          yield* side.readData
        })
      let ran = false
      const error = yield* SmtpClient.send(mail(body), { beforeEndOfData: Effect.sync(() => void (ran = true)) }).pipe(
        Effect.flip,
        Effect.provide(clientLayer(wire, script))
      )
      expect(ran).toBe(true)
      expect(error).toBeInstanceOf(SmtpError.DeliveryUnknownError)
    }))
})
