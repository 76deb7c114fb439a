import { Socket } from "@effect-smtp/client"
import { effectProp, fc } from "@effect-smtp/test-utils/property"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as TestClock from "effect/testing/TestClock"
import * as Wire from "../src/internal/wire.js"

/**
 * The wire alone: one way to write, one way to read a reply or a pipelined
 * group of replies, one place that marks the session broken. The server is
 * a script on an in-memory socket.
 */

const encoder = new TextEncoder()
const wait = (operation: string, seconds = 10): Wire.Wait => ({ timeout: Duration.seconds(seconds), operation })

/** A wire to a server that runs `script`, with the protocol log on or off. */
const wireTo = (
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  protocolLog = false
) =>
  Effect.gen(function*() {
    const socket = yield* Socket
    const connection = yield* socket.connect({ host: "mail.test", port: 25 })
    return yield* Wire.make(connection, { timeouts: [Duration.seconds(10)], protocolLog })
  }).pipe(Effect.provide(TestSocket.layer(script)))

/** Sends `text` to the client in pieces cut at `cuts`. */
const sendCut = (server: TestSocket.ServerSide, text: string, cuts: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const bytes = encoder.encode(text)
    let at = 0
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      if (cut <= at || cut >= bytes.length) continue
      yield* server.send(bytes.subarray(at, cut))
      at = cut
    }
    yield* server.send(bytes.subarray(at))
  })

const group = "250 2.1.0 sender ok\r\n250-2.1.5 first\r\n250 2.1.5 recipient ok\r\n354 go ahead\r\n"

describe("wire", () => {
  effectProp(
    "property: a pipelined group's replies are the same however the bytes are cut, and whether the log is on or off",
    [fc.array(fc.integer({ min: 1, max: group.length - 1 })), fc.boolean()],
    ([cuts, logged]) =>
      Effect.gen(function*() {
        const line = yield* wireTo(
          (server) => Effect.andThen(server.readLine, Effect.andThen(sendCut(server, group, cuts), Effect.never)),
          logged
        )
        yield* line.writeLines("MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n", wait("MAIL FROM"))
        const replies = yield* line.replies([wait("MAIL FROM"), wait("RCPT TO"), wait("DATA")])
        expect(replies.map((r) => [r.code, r.enhancedCode, r.lines])).toEqual([
          [250, "2.1.0", ["sender ok"]],
          [250, "2.1.5", ["first", "recipient ok"]],
          [354, undefined, ["go ahead"]]
        ])
        expect(line.broken()).toBeUndefined()
      }).pipe(Effect.provide(Logger.layer([]))),
    { fastCheck: { numRuns: 100 } }
  )

  it.effect("the log observes every reply, taken from the buffer or waited for, in order", () =>
    Effect.gen(function*() {
      const logged: Array<string> = []
      const line = yield* wireTo(
        (server) => Effect.andThen(server.readLine, Effect.andThen(server.send(group), Effect.never)),
        true
      )
      yield* line.writeLines("MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n", wait("MAIL FROM"))
      yield* line.replies([wait("MAIL FROM"), wait("RCPT TO"), wait("DATA")]).pipe(
        Effect.provide(Logger.layer([Logger.make(({ message }) => logged.push(String(message)))]))
      )
      expect(logged.join("\n").split("\n")).toEqual([
        "S: 250 2.1.0 sender ok",
        "S: 250-2.1.5 first",
        "S: 250 recipient ok",
        "S: 354 go ahead"
      ])
    }))

  it.effect("a 421 fails whatever was asked and breaks the session; a 550 does neither", () =>
    Effect.gen(function*() {
      const line = yield* wireTo((server) =>
        Effect.gen(function*() {
          yield* server.readLine
          yield* server.send("550 5.1.1 no such user\r\n")
          yield* server.readLine
          yield* server.send("421 4.3.2 shutting down\r\n")
          yield* Effect.never
        })
      )
      const refused = yield* line.command("RCPT TO:<x@y.z>\r\n", wait("RCPT TO"))
      expect(refused.code).toBe(550)
      expect(line.broken()).toBeUndefined()
      const error = yield* Effect.flip(line.command("NOOP\r\n", wait("NOOP")))
      expect(error._tag).toBe("SmtpCommandError")
      expect(line.broken()).toBe(error)
    }))

  it.effect("a reply that does not come fails at its timeout exactly, not a millisecond before, and breaks the session", () =>
    Effect.gen(function*() {
      const line = yield* wireTo((server) => Effect.andThen(server.readLine, Effect.never))
      const fiber = yield* Effect.forkChild(line.command("NOOP\r\n", wait("NOOP", 30)))
      yield* TestClock.adjust(Duration.millis(29_999))
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust(Duration.millis(1))
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(line.broken()?._tag).toBe("TimeoutError")
    }))

  it.effect("a malformed reply breaks the session with a SmtpProtocolError", () =>
    Effect.gen(function*() {
      const line = yield* wireTo((server) =>
        Effect.andThen(server.readLine, Effect.andThen(server.send("hello there\r\n"), Effect.never))
      )
      const error = yield* Effect.flip(line.command("NOOP\r\n", wait("NOOP")))
      expect(error._tag).toBe("SmtpProtocolError")
      expect(line.broken()).toBe(error)
    }))

  it.effect("bytes after the 220 to STARTTLS are the injection attack: no handshake, the session is broken", () =>
    Effect.gen(function*() {
      const line = yield* wireTo((server) =>
        Effect.andThen(server.readLine, Effect.andThen(server.send("220 go\r\n250 injected\r\n"), Effect.never))
      )
      const ready = yield* line.command("STARTTLS\r\n", wait("STARTTLS"))
      expect(ready.code).toBe(220)
      const error = yield* Effect.flip(line.startTls({}, Duration.seconds(10)))
      expect(error._tag).toBe("SmtpProtocolError")
      expect(error._tag === "SmtpProtocolError" && error.reason).toBe("StartTlsInjection")
      expect(line.broken()).toBe(error)
    }))

  it.effect("an exchange interrupted part way leaves the session out of step; one that fails does not", () =>
    Effect.gen(function*() {
      const line = yield* wireTo((server) =>
        Effect.andThen(server.readLine, Effect.andThen(server.send("500 what\r\n"), Effect.never))
      )
      yield* line.exchange(line.command("XYZZY\r\n", wait("XYZZY")))
      expect(line.interrupted()).toBe(false)
      const fiber = yield* Effect.forkChild(line.exchange(line.command("NOOP\r\n", wait("NOOP"))))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
      expect(line.interrupted()).toBe(true)
      expect(line.broken()).toBeUndefined()
    }))
})
