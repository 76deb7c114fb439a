/**
 * The engine's link to the client over a `TestSocket` server side.
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { ServerSide } from "../TestSocket.js"
import type { ClientLink } from "./engine/link.js"
import { BodyDecoder } from "./reader.js"

/**
 * The engine's link to the client over a `ServerSide`, through its public members only, so
 * a wrapped side (a delayed or split `send`) is honoured.
 *
 * @internal
 */
export const memoryLink = (side: ServerSide): ClientLink => {
  const orUndefined = <A>(effect: Effect.Effect<A, Cause.NoSuchElementError>) =>
    Effect.catch(effect, () => Effect.succeed(undefined))
  return {
    readLine: (maxBytes) =>
      Effect.map(orUndefined(side.readLine), (line) => (line !== undefined && line.length > maxBytes ? null : line)),
    readBytes: (n) => orUndefined(side.readBytes(n)),
    readData: (keep) =>
      Effect.map(orUndefined(side.readData), (sent) => {
        if (sent === undefined) return undefined
        const body = new BodyDecoder(keep)
        body.push(sent)
        return body.decoded
      }),
    hasPending: side.hasPending,
    isTls: side.isTls,
    canStartTls: true,
    write: (data) => Effect.as(side.send(data), true),
    // The client upgrades its end when it reads the 220; here that is all TLS is.
    startTls: (reply) => Effect.as(side.send(reply), true),
    // Returning from the script closes the connection.
    end: Effect.void,
    reset: side.reset
  }
}
