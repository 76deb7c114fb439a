/**
 * Scripted-server variations shared by the client tests.
 */
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * `script` with every reply to the end of a message (`250 2.0.0 Ok...`) sent
 * `delay` late on Effect's Clock: a message stays "awaiting its final reply"
 * as long as a test wants.
 */
export const lateFinalReply =
  (script: (side: TestSocket.ServerSide) => Effect.Effect<void, unknown>, delay: Duration.Input) =>
  (side: TestSocket.ServerSide): Effect.Effect<void, unknown> =>
    script({
      ...side,
      send: (data) =>
        typeof data === "string" && data.startsWith("250 2.0.0 Ok")
          ? Effect.andThen(Effect.sleep(delay), side.send(data))
          : side.send(data)
    })

/**
 * A client (plain SMTP to mail.test:25, no telemetry) on a well-behaved
 * scripted server offering `capabilities`, with the connections it opened
 * counted: a refusal "before any byte" is one that opened none.
 */
export const countingClient = (capabilities: ReadonlyArray<string>) => {
  const server = TestSocket.smtpServer({ capabilities })
  let connections = 0
  const layer = scriptedClient((side) =>
    Effect.andThen(
      Effect.sync(() => {
        connections++
      }),
      server.script(side)
    ), { host: "mail.test", port: 25, security: "none" })
  return { server, layer, connections: () => connections }
}
