/**
 * The fault matrix again, in memory and under `TestClock`: a scripted server
 * (`TestSocket`) misbehaves at each stage in each way an in-memory peer can
 * (no RST without TCP), the client runs with a 10-second timeout, and the
 * simulated time is the whole story:
 * - a stall fails with a timeout exactly at 10 s, not a millisecond before,
 *   and the failing instrument records exactly 10,000 ms;
 * - every other fault fails with no time passing at all.
 */
import { SmtpClient, type SmtpError, SmtpProtocol } from "@effect-smtp/client"
import { TestSocket } from "@effect-smtp/testing"
import { MisbehavingServer } from "@effect-smtp/testing/node"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/testing/TestClock"
import { recorder } from "../utils/recordingMetrics.js"

type Stage = MisbehavingServer.Stage
type Fault = "close" | "stall" | "garbage" | "long line" | "endless continuation" | "421" | "4xx" | "5xx"

const stages = MisbehavingServer.stages
const faults: ReadonlyArray<Fault> = [
  "close",
  "stall",
  "garbage",
  "long line",
  "endless continuation",
  "421",
  "4xx",
  "5xx"
]

const timeout = Duration.seconds(10)

/** Carries out a fault; "continue" when the session goes on. */
const strike = (server: TestSocket.ServerSide, fault: Fault): Effect.Effect<"stop" | "continue"> => {
  switch (fault) {
    case "close":
      return Effect.succeed("stop")
    case "stall":
      return Effect.never
    case "garbage":
      return Effect.andThen(server.send("\u0000<html>not smtp</html>\r\n"), Effect.never)
    case "long line":
      return Effect.andThen(server.send(`250 ${"x".repeat(64 * 1024)}\r\n`), Effect.never)
    case "endless continuation":
      // Bounded: well past the client's 1,000-line limit, then silence.
      return Effect.andThen(
        Effect.forEach(Array.from({ length: 20 }), () => server.send("250-more\r\n".repeat(100)), { discard: true }),
        Effect.never
      )
    case "421":
      return Effect.as(server.send("421 4.3.2 closing\r\n"), "stop")
    case "4xx":
      return Effect.as(server.send("451 4.3.0 try later\r\n"), "continue")
    case "5xx":
      return Effect.as(server.send("554 5.3.0 no\r\n"), "continue")
  }
}

/** A STARTTLS / AUTH PLAIN server that misbehaves once, at `stage`. */
const script = (stage: Stage, fault: Fault) => (server: TestSocket.ServerSide) =>
  Effect.gen(function*() {
    const at = (s: Stage) => (s === stage ? strike(server, fault) : undefined)
    const greeting = at("greeting")
    if (greeting !== undefined) {
      if ((yield* greeting) === "stop") return
    } else {
      yield* server.send("220 clock.test ESMTP\r\n")
    }
    let ehloSeen = false
    while (true) {
      const line = yield* server.readLine
      const verb = line.split(/[ :]/)[0]!.toUpperCase()
      const f = verb === "EHLO" && !ehloSeen
        ? at("ehlo")
        : verb === "STARTTLS"
        ? at("starttls")
        : verb === "AUTH"
        ? at("auth")
        : verb === "MAIL"
        ? at("mail")
        : verb === "RCPT"
        ? at("rcpt")
        : verb === "DATA"
        ? at("data")
        : verb === "QUIT"
        ? at("quit")
        : undefined
      if (verb === "EHLO") ehloSeen = true
      if (f !== undefined) {
        if ((yield* f) === "stop" || verb === "QUIT") return
        continue
      }
      if (verb === "EHLO") {
        const tls = yield* server.isTls
        yield* server.send(`250-clock.test\r\n250-PIPELINING\r\n${tls ? "250 AUTH PLAIN\r\n" : "250 STARTTLS\r\n"}`)
      } else if (verb === "STARTTLS") {
        yield* server.send("220 2.0.0 go ahead\r\n")
      } else if (verb === "AUTH") {
        yield* server.send("235 2.7.0 ok\r\n")
      } else if (verb === "DATA") {
        yield* server.send("354 go ahead\r\n")
        const middle = at("body")
        if (middle !== undefined) {
          yield* server.readLine
          if ((yield* middle) === "stop") return
          yield* server.readData
          continue
        }
        yield* server.readData
        const end = at("end")
        if (end !== undefined) {
          if ((yield* end) === "stop") return
          continue
        }
        yield* server.send("250 2.0.0 queued\r\n")
      } else if (verb === "QUIT") {
        yield* server.send("221 bye\r\n")
        return
      } else {
        yield* server.send("250 ok\r\n")
      }
    }
  })

const expectedTag = (stage: Stage, fault: Fault): SmtpError.SmtpError["_tag"] | undefined => {
  if (stage === "quit") return undefined
  const afterEnd = stage === "body" || stage === "end"
  switch (fault) {
    case "close":
      return afterEnd ? "DeliveryUnknownError" : "SocketError"
    case "stall":
      return afterEnd ? "DeliveryUnknownError" : "TimeoutError"
    case "garbage":
    case "long line":
    case "endless continuation":
      return afterEnd ? "DeliveryUnknownError" : "SmtpProtocolError"
    case "421":
      return "SmtpCommandError"
    case "4xx":
    case "5xx":
      return stage === "auth" ? "AuthenticationError" : "SmtpCommandError"
  }
}

const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: clock\r\n\r\nline one\r\nline two\r\n" }

const runCase = (stage: Stage, fault: Fault) =>
  Effect.gen(function*() {
    const metrics = recorder()
    const layer = SmtpClient.layer({
      host: "mail.test",
      port: 587,
      security: "starttls",
      auth: { user: "user", password: Redacted.make("pass"), mechanism: "PLAIN" },
      timeout
    }).pipe(
      Layer.provide(SmtpProtocol.layer),
      Layer.provide(TestSocket.layer(script(stage, fault))),
      Layer.provide(metrics.layer)
    )
    const fiber = yield* Effect.forkChild(Effect.exit(SmtpClient.send(mail).pipe(Effect.provide(layer))))
    const expected = expectedTag(stage, fault)
    if (fault === "stall") {
      // Not a millisecond early...
      yield* TestClock.adjust(Duration.subtract(timeout, Duration.millis(1)))
      expect(fiber.pollUnsafe() === undefined, "finished before the timeout").toBe(true)
      // ...and exactly on time.
      yield* TestClock.adjust(Duration.millis(1))
    }
    const exit = yield* Fiber.join(fiber)
    if (expected === undefined) {
      expect(Exit.isSuccess(exit)).toBe(true)
      return
    }
    if (Exit.isSuccess(exit)) return expect.unreachable(`expected ${expected}, the send succeeded`)
    const [reason] = exit.cause.reasons
    const error = exit.cause.reasons.length === 1 && reason !== undefined && Cause.isFailReason(reason)
      ? reason.error
      : undefined
    expect(error?._tag).toBe(expected)
    if (error?._tag === "DeliveryUnknownError") {
      expect(error.cause._tag).toBe(
        fault === "stall" ? "TimeoutError" : fault === "close" ? "SocketError" : "SmtpProtocolError"
      )
    }
    if (fault === "stall") {
      // The instrument that carries the failure measured exactly the simulated wait.
      const phase = stage === "greeting" || stage === "ehlo" || stage === "starttls"
        ? metrics.clientConnect()
        : stage === "auth"
        ? metrics.connectionEnd().map((e) => ({ ...e, durationMs: e.durationSeconds * 1000 }))
        : metrics.messageSend()
      expect(phase.map((e) => e.durationMs)).toEqual([Duration.toMillis(timeout)])
    }
  })

describe(`fault matrix under TestClock: ${stages.length * faults.length} cases`, () => {
  for (const stage of stages) {
    for (const fault of faults) {
      const expected = expectedTag(stage, fault)
      it.effect(`${stage} × ${fault} → ${expected ?? "delivered"}`, () => runCase(stage, fault), 10_000)
    }
  }
})
