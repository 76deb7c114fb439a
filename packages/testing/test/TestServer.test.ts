/**
 * The test server engine is one piece: the same options and faults give the
 * same conversation in memory (`TestSocket.smtpServer`) and over TCP
 * (`MisbehavingServer`), byte for byte, through the same `Socket` interface
 * the client uses. Plus what only one side has: a reset in memory, TLS from
 * the first byte over TCP, CRAM-MD5, and the waits a test synchronises on;
 * the slow server (`delay`) and the idle timeout on each side's clock.
 */
import { SmtpClient, SmtpError, SmtpMetrics } from "@effect-smtp/client"
import { Socket } from "@effect-smtp/client/Socket"
import { NodeSmtp, NodeSocket } from "@effect-smtp/node"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestServer, TestSocket } from "@effect-smtp/testing"
import { MisbehavingServer, TestCertificates } from "@effect-smtp/testing/node"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as TestClock from "effect/testing/TestClock"

const decoder = new TextDecoder()
const encoder = new TextEncoder()

/** A complete reply: its last line is `ddd ` (or `ddd` alone) and CRLF. */
const complete = (text: string): boolean => /(?:^|\r\n)\d{3}(?: [^\r\n]*)?\r\n$/.test(text)

/** A line to write, and whether the server answers it (a DATA body's lines are not answered). */
interface Step {
  readonly line: string
  readonly answered: boolean
}

/**
 * Talks raw SMTP through whatever `Socket` is provided, in lockstep: reads
 * the greeting, then writes each step and reads its reply. The body is sent
 * only after a 354. The transcript holds every reply as received, or how the
 * connection ended instead ("<closed>", "<ECONNRESET>", also when a reset
 * struck before the connect completed), and stops there or after a 421.
 */
const converse = (port: number, steps: ReadonlyArray<Step>) =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* Socket
    // A reset right at the greeting can reach a TCP client while it is still connecting.
    const connected = yield* Effect.result(socket.connect({ host: "127.0.0.1", port }))
    if (Result.isFailure(connected)) {
      return [`<${connected.failure._tag === "SocketError" ? connected.failure.code : "?"}>`]
    }
    const connection = connected.success
    const readReply = Effect.gen(function*() {
      let text = ""
      while (!complete(text)) {
        const chunk = yield* Effect.result(connection.read)
        if (Result.isFailure(chunk)) return chunk.failure.code === undefined ? "<closed>" : `<${chunk.failure.code}>`
        text += decoder.decode(chunk.success)
      }
      return text
    })
    const transcript: Array<string> = [yield* readReply]
    const over = () => /^(<|421)/.test(transcript.at(-1)!)
    for (const step of steps) {
      if (over()) break
      if (!step.answered && !transcript.at(-1)!.startsWith("354")) continue
      yield* connection.write(encoder.encode(`${step.line}\r\n`))
      if (step.answered) transcript.push(yield* readReply)
    }
    return transcript
  }))

const command = (line: string): Step => ({ line, answered: true })

const session: ReadonlyArray<Step> = [
  command("EHLO client.test"),
  command(`AUTH PLAIN ${btoa("\u0000alice\u0000secret")}`),
  command("MAIL FROM:<a@example.com>"),
  command("RCPT TO:<b@example.com>"),
  command("RCPT TO:<c@example.com>"),
  command("DATA"),
  { line: "Subject: parity\r\n\r\n..a stuffed line\r\nbody", answered: false },
  command("."),
  command("NOOP"),
  command("QUIT")
]

const options = (faults: TestServer.FaultPlan | undefined): TestServer.Options => ({
  faults,
  auth: { user: "alice", password: "secret" },
  chunking: true,
  extensions: ["SIZE 1000000"]
})

const inMemory = (serverOptions: TestServer.Options) =>
  Effect.gen(function*() {
    const server = TestSocket.smtpServer({ ...serverOptions, credentials: undefined })
    const transcript = yield* converse(25, session).pipe(Effect.provide(TestSocket.layer(server.script)))
    return { transcript, received: server.received }
  })

const overTcp = (serverOptions: TestServer.Options) =>
  Effect.gen(function*() {
    const server = yield* MisbehavingServer.make(serverOptions)
    const transcript = yield* converse(server.port, session).pipe(
      Effect.provide(NodeSocket.layer),
      Effect.provide(SmtpMetrics.layerNoop)
    )
    return { transcript, received: yield* server.messages }
  })

const message = { from: "a@example.com", to: ["b@example.com"], content: "x\r\n" }

/** The real client, sending `mail` to an in-memory server. */
const sendInMemory = (
  server: TestSocket.SmtpServer,
  options: Partial<SmtpClient.Options> = {},
  mail: SmtpClient.Mail = message
) =>
  SmtpClient.send(mail).pipe(
    Effect.provide(
      scriptedClient(server.script, { host: "mail.test", port: 25, security: "none", ...options })
    )
  )

const faults: ReadonlyArray<readonly [string, TestServer.Fault]> = [
  ["close", TestServer.close],
  ["reset", TestServer.reset],
  ["421", TestServer.serviceClosing()],
  ["4xx", TestServer.transient()],
  ["5xx", TestServer.permanent()],
  ["delay", TestServer.delay("10 millis")]
]
const struck: ReadonlyArray<TestServer.Stage> = ["greeting", "ehlo", "auth", "mail", "rcpt", "data", "end", "quit"]

describe("one engine, in memory and over TCP", () => {
  it.live("without faults: the same replies, the same stored message, dot-stuffing undone", () =>
    Effect.gen(function*() {
      const memory = yield* inMemory(options(undefined))
      const tcp = yield* overTcp(options(undefined))
      expect(memory.transcript).toEqual(tcp.transcript)
      expect(memory.transcript).toHaveLength(session.length)
      expect(memory.transcript.at(-1)).toBe("221 2.0.0 bye\r\n")
      expect(memory.transcript[1]).toBe(
        "250-test.invalid\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n" +
          "250-AUTH PLAIN LOGIN\r\n250 SIZE 1000000\r\n"
      )
      for (const received of [memory.received, tcp.received]) {
        expect(received.map((m) => ({ ...m, data: decoder.decode(m.data) }))).toEqual([{
          connection: 1,
          from: "a@example.com",
          to: ["b@example.com", "c@example.com"],
          data: "Subject: parity\r\n\r\n.a stuffed line\r\nbody\r\n",
          via: "DATA",
          tls: false,
          user: "alice"
        }])
      }
    }))

  for (const stage of struck) {
    for (const [name, fault] of faults) {
      it.live(`${name} at ${stage}: the same transcript both ways`, () =>
        Effect.gen(function*() {
          const plan = { [stage]: fault }
          const memory = yield* inMemory(options(plan))
          const tcp = yield* overTcp(options(plan))
          expect(memory.transcript).toEqual(tcp.transcript)
          // The fault shows where it struck...
          const ending = memory.transcript.at(-1)!
          if (fault._tag === "Reset") expect(ending).toBe("<ECONNRESET>")
          if (fault._tag === "Close") expect(ending).toBe("<closed>")
          if (fault._tag === "Reply") expect(memory.transcript).toContain(`${fault.text}\r\n`)
          // A delay changes no byte of the conversation, only when it comes.
          if (fault._tag === "Delay") {
            expect(memory.transcript).toEqual((yield* inMemory(options(undefined))).transcript)
          }
          // ...and a message is stored only when the fault let the transaction through.
          const through = stage === "quit" || fault._tag === "Delay" ||
            (fault._tag === "Reply" && !fault.close && (stage === "greeting" || stage === "ehlo"))
          expect(memory.received).toHaveLength(through ? 1 : 0)
          expect(tcp.received).toHaveLength(through ? 1 : 0)
        }))
    }
  }
})

describe("what only one transport has", () => {
  it.effect("in memory, a reset is ECONNRESET on the client's next read", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(sendInMemory(TestSocket.smtpServer({ faults: { mail: TestServer.reset } })))
      expect(error).toBeInstanceOf(SmtpError.SocketError)
      expect((error as SmtpError.SocketError).code).toBe("ECONNRESET")
    }))

  it.live("over TCP, TLS from the first byte (implicit): the message is stored as received over TLS", () =>
    Effect.gen(function*() {
      const { ca, cert, key } = TestCertificates.testCertificates()
      const server = yield* MisbehavingServer.make({ tls: { key, cert, implicit: true } })
      const result = yield* SmtpClient.send(message).pipe(
        Effect.provide(NodeSmtp.layer({ host: "localhost", port: server.port, security: "tls", tls: { ca } }))
      )
      expect(result.accepted).toEqual(["b@example.com"])
      const [stored] = yield* server.messages
      expect(stored?.tls).toBe(true)
      // TLS from the start: STARTTLS is not offered.
      expect((yield* server.commands).filter((c) => c === "STARTTLS")).toEqual([])
    }))

  it.live("awaitFault waits until the fault struck, and says when it never did", () =>
    Effect.gen(function*() {
      const server = yield* MisbehavingServer.make({ faults: { data: TestServer.stall } })
      expect(yield* server.awaitFault("data", "50 millis")).toBe(false)
      const send = SmtpClient.send(message).pipe(
        Effect.provide(NodeSmtp.layer({ host: "127.0.0.1", port: server.port, security: "none", timeout: "5 seconds" }))
      )
      yield* Effect.forkScoped(send)
      expect(yield* server.awaitFault("data")).toBe(true)
      expect(yield* server.openConnections).toBe(1)
    }))
})

describe("CRAM-MD5 (the server's check, and the client's answer)", () => {
  const sendAs = (password: string) =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({
        capabilities: ["AUTH CRAM-MD5"],
        credentials: { user: "tim", password: "tanstaaftanstaaf" }
      })
      const result = yield* Effect.result(
        sendInMemory(server, { auth: { user: "tim", password: Redacted.make(password) } })
      )
      return { result, server }
    })

  it.effect("the right password is accepted, and the message stored with its user", () =>
    Effect.gen(function*() {
      const { result, server } = yield* sendAs("tanstaaftanstaaf")
      expect(Result.isSuccess(result)).toBe(true)
      expect(server.commands).toContain("AUTH CRAM-MD5")
      expect(server.received.map((m) => m.user)).toEqual(["tim"])
    }))

  it.effect("a wrong one is refused with 535", () =>
    Effect.gen(function*() {
      const { result, server } = yield* sendAs("tanstaaf")
      if (Result.isSuccess(result)) return expect.unreachable("a wrong password was accepted")
      expect(result.failure).toBeInstanceOf(SmtpError.AuthenticationError)
      expect((result.failure as SmtpError.AuthenticationError).statusCode).toBe(535)
      expect(server.received).toEqual([])
    }))
})

describe("a slow server: delay gives the usual answer, late", () => {
  /** Lets the forked client run until the fault has struck at `stage` (in memory, all of it is fibers). */
  const untilStruck = (server: TestSocket.SmtpServer, stage: TestServer.Stage) =>
    Effect.gen(function*() {
      for (let i = 0; i < 10_000; i++) {
        if (server.connections().some((c) => c.faults.includes(stage))) return
        yield* Effect.yieldNow
      }
      return yield* Effect.die(new Error(`no fault struck at ${stage}`))
    })

  it.effect("in memory, on the test's clock: the final reply waits the whole delay; then the message is stored and the send succeeds", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ faults: { end: TestServer.delay("10 seconds") } })
      const fiber = yield* Effect.forkChild(sendInMemory(server, { timeout: "1 minute" }))
      yield* untilStruck(server, "end")
      yield* TestClock.adjust("9999 millis")
      expect(fiber.pollUnsafe()).toBeUndefined()
      expect(server.received).toEqual([])
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(fiber)).accepted).toEqual(["b@example.com"])
      expect(server.received.map((m) => decoder.decode(m.data))).toEqual(["x\r\n"])
    }))

  for (const via of ["DATA", "BDAT"] as const) {
    it.effect(`in memory, at body (${via}): the server pauses before it reads the message, then stores it whole`, () =>
      Effect.gen(function*() {
        const server = TestSocket.smtpServer({
          chunking: via === "BDAT",
          faults: { body: TestServer.delay("5 seconds") }
        })
        const content = `Subject: slow\r\n\r\n${"a line of the body\r\n".repeat(200)}`
        const fiber = yield* Effect.forkChild(sendInMemory(server, { timeout: "1 minute" }, { ...message, content }))
        yield* untilStruck(server, "body")
        yield* TestClock.adjust("4999 millis")
        expect(fiber.pollUnsafe()).toBeUndefined()
        expect(server.received).toEqual([])
        yield* TestClock.adjust("1 millis")
        yield* Fiber.join(fiber)
        expect(server.received.map((m) => ({ via: m.via, data: decoder.decode(m.data) }))).toEqual([{
          via,
          data: content
        }])
      }))
  }

  it.live("over TCP, on the live clock: a final reply later than the client's timeout leaves the delivery unknown, and nothing stored yet", () =>
    Effect.gen(function*() {
      const server = yield* MisbehavingServer.make({ faults: { end: MisbehavingServer.delay("1 minute") } })
      const error = yield* Effect.flip(
        SmtpClient.send(message).pipe(
          Effect.provide(
            NodeSmtp.layer({ host: "127.0.0.1", port: server.port, security: "none", timeout: "500 millis" })
          )
        )
      )
      expect(error).toBeInstanceOf(SmtpError.DeliveryUnknownError)
      expect((error as SmtpError.DeliveryUnknownError).cause).toBeInstanceOf(SmtpError.TimeoutError)
      expect(yield* server.awaitFault("end")).toBe(true)
      expect(yield* server.messages).toEqual([])
    }))
})

describe("idleTimeout: the server drops a silent client", () => {
  /** Reads the greeting, says EHLO, then stays silent and reads whatever comes until the end. */
  const idleClient = (port: number) =>
    Effect.scoped(Effect.gen(function*() {
      const socket = yield* Socket
      const connection = yield* socket.connect({ host: "127.0.0.1", port })
      let text = ""
      const readUntil = (done: () => boolean) =>
        Effect.gen(function*() {
          while (!done()) {
            const chunk = yield* Effect.result(connection.read)
            if (Result.isFailure(chunk)) return "<closed>"
            text += decoder.decode(chunk.success)
          }
          return text
        })
      yield* readUntil(() => complete(text))
      text = ""
      yield* connection.write(encoder.encode("EHLO client.test\r\n"))
      yield* readUntil(() => complete(text))
      text = ""
      const goodbye = yield* readUntil(() => complete(text))
      return [goodbye, yield* readUntil(() => false)]
    }))

  it.effect("in memory, on the test's clock: 421 4.4.2 after the idle timeout, then the end", () =>
    Effect.gen(function*() {
      const server = TestSocket.smtpServer({ idleTimeout: "1 second" })
      const fiber = yield* Effect.forkChild(
        idleClient(25).pipe(Effect.provide(TestSocket.layer(server.script)))
      )
      for (let turn = 0; turn < 100; turn++) yield* Effect.yieldNow
      yield* TestClock.adjust("999 millis")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toEqual(["421 4.4.2 test.invalid Error: timeout exceeded\r\n", "<closed>"])
    }))

  it.live("over TCP, on the live clock: the same goodbye", () =>
    Effect.gen(function*() {
      const server = yield* MisbehavingServer.make({ idleTimeout: "200 millis" })
      const transcript = yield* idleClient(server.port).pipe(
        Effect.provide(NodeSocket.layer),
        Effect.provide(SmtpMetrics.layerNoop)
      )
      expect(transcript).toEqual(["421 4.4.2 test.invalid Error: timeout exceeded\r\n", "<closed>"])
    }))
})
