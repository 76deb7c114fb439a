import { SmtpError } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { smtpServer } from "./utils/smtpServer.js"

const mail = { from: "a@example.com", to: ["b@example.com"], content: "Subject: p\r\n\r\npromise\r\n" }

describe("NodeSmtp.promiseClient", () => {
  it.live("sends with promises, and rejects with the typed error", () =>
    Effect.gen(function*() {
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const client = NodeSmtp.promiseClient({ host: "127.0.0.1", port: server.port, security: "none" })
      const result = yield* Effect.promise(() => client.send(mail))
      expect(result.accepted).toEqual(["b@example.com"])
      const error = yield* Effect.promise(() => client.send({ ...mail, to: ["reject@example.com"] }).catch((e) => e))
      expect(error).toBeInstanceOf(SmtpError.SmtpCommandError)
      yield* Effect.promise(() => client.close())
    }))

  it.live("an AbortSignal interrupts a send that hangs, and its connection is closed", () =>
    Effect.gen(function*() {
      // The server never answers the end of DATA.
      const server = yield* smtpServer({ hideSTARTTLS: true, onData: () => {} })
      const client = NodeSmtp.promiseClient({ host: "127.0.0.1", port: server.port, security: "none" })
      const controller = new AbortController()
      const pending = client.send(mail, { signal: controller.signal }).catch((e: unknown) => e)
      yield* Effect.sleep("300 millis")
      controller.abort()
      const error = yield* Effect.promise(() => pending)
      expect((error as DOMException).name).toBe("AbortError")
      for (let i = 0; i < 100 && (yield* server.connections) > 0; i++) yield* Effect.sleep("20 millis")
      expect(yield* server.connections).toBe(0)
      yield* Effect.promise(() => client.close())
    }))
})
