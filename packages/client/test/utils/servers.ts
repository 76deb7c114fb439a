/**
 * Scripted-server variations shared by the client tests.
 */
import type { TestSocket } from "@effect-smtp/testing"
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
