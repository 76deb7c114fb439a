/**
 * The TCP connect of one attempt.
 */
import { SocketError } from "@effect-smtp/client/SmtpError"
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import type { Endpoint } from "./endpoint.js"
import { codeOf } from "./tlsError.js"

/**
 * Connects to `target`'s address; `adopt` receives the socket as soon as it
 * exists, so the connection owns it before any event can fire. Interruption
 * destroys the socket.
 *
 * @internal
 */
export const tcpConnect = (target: Endpoint, adopt: (socket: Net.Socket) => void): Effect.Effect<void, SocketError> =>
  Effect.callback<void, SocketError>((resume) => {
    const { address, family, host, port } = target
    // No Nagle: the protocol layer batches its own pipelined commands, and
    // Nagle's wait for an ACK stalls the write-write-read pattern of SMTP.
    const socket = Net.connect({ host: address, port, family, noDelay: true })
    adopt(socket)
    const cleanup = () => {
      socket.off("connect", onConnect)
      socket.off("error", onError)
    }
    const onConnect = () => {
      cleanup()
      resume(Effect.void)
    }
    const onError = (error: Error) => {
      cleanup()
      socket.destroy()
      const code = codeOf(error)
      resume(Effect.fail(new SocketError({ operation: "connect", host, port, address, code, cause: error })))
    }
    socket.on("connect", onConnect)
    socket.on("error", onError)
    return Effect.sync(() => {
      cleanup()
      socket.destroy()
    })
  })
