import { SmtpClient, SmtpError, SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * LMTP (RFC 2033): LHLO, and after the end of the message one reply per
 * accepted recipient, reported per recipient. The server here is a script
 * that delivers to some mailboxes and not others (one is over quota).
 */

const lmtpServer = (finals: Record<string, string>, log: Array<string>) => (server: TestSocket.ServerSide) =>
  Effect.gen(function*() {
    yield* server.send("220 lmtp.test LMTP ready\r\n")
    const accepted: Array<string> = []
    while (true) {
      const line = yield* server.readLine
      log.push(line)
      if (line.startsWith("LHLO")) yield* server.send("250-lmtp.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n")
      else if (line.startsWith("MAIL")) yield* server.send("250 2.1.0 OK\r\n")
      else if (line.startsWith("RCPT")) {
        const to = /<([^>]*)>/.exec(line)![1]
        if (to.startsWith("nobody")) yield* server.send("550 5.1.1 User doesn't exist\r\n")
        else {
          accepted.push(to)
          yield* server.send("250 2.1.5 OK\r\n")
        }
      } else if (line === "DATA") {
        yield* server.send("354 OK\r\n")
        yield* server.readData
        for (const to of accepted) yield* server.send(`${finals[to] ?? "250 2.0.0 Saved"}\r\n`)
        accepted.length = 0
      } else if (line === "QUIT") {
        yield* server.send("221 2.0.0 Bye\r\n")
        return
      } else yield* server.send("500 5.5.1 unknown\r\n")
    }
  })

const client = (script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>) =>
  scriptedClient(script, { host: "lmtp.test", port: 24, security: "none", protocol: "lmtp" })

const content = "Subject: lmtp\r\n\r\nhello\r\n"

describe("LMTP", () => {
  it.effect("LHLO, and each recipient's own reply after the end of the message: delivered, over quota, unknown", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const result = yield* SmtpClient.send({
        from: "a@example.com",
        to: ["alice@lmtp.test", "full@lmtp.test", "nobody@lmtp.test", "bob@lmtp.test"],
        content
      }).pipe(Effect.provide(client(lmtpServer({
        "full@lmtp.test": "552 5.2.2 <full@lmtp.test> Quota exceeded (mailbox for user is full)"
      }, log))))
      expect(log[0]).toBe("LHLO [127.0.0.1]")
      expect(result.accepted).toEqual(["alice@lmtp.test", "bob@lmtp.test"])
      expect(result.rejected.map((r) => [r.recipient, r.statusCode, r.enhancedStatusCode])).toEqual([
        ["nobody@lmtp.test", 550, "5.1.1"],
        ["full@lmtp.test", 552, "5.2.2"]
      ])
      expect(result.deliveries?.map((d) => [d.recipient, d.statusCode])).toEqual([
        ["alice@lmtp.test", 250],
        ["full@lmtp.test", 552],
        ["bob@lmtp.test", 250]
      ])
      expect(result.statusCode).toBe(250)
    }))

  it.effect("no recipient delivered after the end: SmtpCommandError whose rejectedRecipients says who and why", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const error = yield* Effect.flip(
        SmtpClient.send({ from: "a@example.com", to: ["full@lmtp.test", "nobody@lmtp.test"], content }).pipe(
          Effect.provide(client(lmtpServer({ "full@lmtp.test": "452 4.2.2 Quota exceeded" }, log)))
        )
      )
      expect(error).toBeInstanceOf(SmtpError.SmtpCommandError)
      if (!(error instanceof SmtpError.SmtpCommandError)) return
      expect(error.statusCode).toBe(452)
      expect(error.retryable).toBe(true)
      expect(error.rejectedRecipients?.map((r) => r.recipient)).toEqual(["nobody@lmtp.test", "full@lmtp.test"])
    }))

  it.effect("pooled and pipelined: the next message's replies follow the per-recipient ones", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const results = yield* Effect.forEach(
        [1, 2, 3, 4],
        (i) => SmtpClient.send({ from: "a@example.com", to: [`u${i}@lmtp.test`, `v${i}@lmtp.test`], content }),
        { concurrency: 4 }
      ).pipe(Effect.provide(
        SmtpClient.layer({
          host: "lmtp.test",
          port: 24,
          security: "none",
          protocol: "lmtp",
          pool: { maxConnections: 1 }
        })
          .pipe(
            Layer.provide(SmtpProtocol.layer),
            Layer.provide(TestSocket.layer(lmtpServer({ "v3@lmtp.test": "552 5.2.2 full" }, log))),
            Layer.provide(SmtpMetrics.layerNoop)
          )
      ))
      expect(results.map((r) => r.accepted.length)).toEqual([2, 2, 1, 2])
      expect(results[2].rejected[0].recipient).toBe("v3@lmtp.test")
      expect(log.filter((l) => l.startsWith("LHLO"))).toHaveLength(1)
    }))

  it.effect("a server that does not answer LHLO with 250 is an error, never a HELO fallback", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        SmtpClient.send({ from: "a@example.com", to: ["b@lmtp.test"], content }).pipe(
          Effect.provide(client((server) =>
            Effect.gen(function*() {
              yield* server.send("220 smtp only\r\n")
              yield* server.readLine
              yield* server.send("500 5.5.1 what is LHLO\r\n")
              yield* server.readLine
            })
          ))
        )
      )
      expect(error._tag).toBe("SmtpCommandError")
      expect(error._tag === "SmtpCommandError" && error.command).toBe("LHLO")
    }))
})
