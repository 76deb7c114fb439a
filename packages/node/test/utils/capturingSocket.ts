/**
 * A `Socket` wrapper that reports every write the client completed, beneath
 * the protocol: what went on the wire, write by write.
 */
import { Socket } from "@effect-smtp/client"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

export const capturingSocket = (onWrite: (data: Uint8Array) => void): Layer.Layer<Socket, never, Socket> =>
  Layer.effect(
    Socket,
    Effect.map(Socket, (inner) => ({
      connect: (options: Parameters<typeof inner.connect>[0]) =>
        Effect.map(inner.connect(options), (connection) => ({
          ...connection,
          // The timeout is passed on: a wrapped write is timed as any other.
          write: (data: Uint8Array, timeout?: Parameters<typeof connection.write>[1]) =>
            Effect.tap(connection.write(data, timeout), () => Effect.sync(() => onWrite(data.slice())))
        }))
    }))
  )
