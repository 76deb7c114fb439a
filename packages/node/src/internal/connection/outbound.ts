/**
 * What goes out: writes that wait only when Node's buffer is full, and the
 * graceful close.
 */
import { type SocketError, TimeoutError } from "@effect-smtp/client/SmtpError"
import type { WriteTimeout } from "@effect-smtp/client/Socket"
import * as Effect from "effect/Effect"
import type * as Net from "node:net"

/**
 * Writes `data` to a writable `socket`; `failure` names the error when the
 * socket fails or closes before Node's buffer drained.
 *
 * @internal
 */
export const socketWrite = (
  socket: Net.Socket,
  data: Uint8Array,
  timeout: WriteTimeout | undefined,
  failure: () => SocketError
): Effect.Effect<void, SocketError | TimeoutError> => {
  // The fast path: pipelined small commands fit in Node's buffer and
  // need no wait (and no callback allocation) at all. Node queues `data`
  // itself, not a copy, until it is flushed.
  if (socket.write(data)) {
    return Effect.void
  }
  const drained = Effect.callback<void, SocketError>((resume) => {
    const cleanup = () => {
      socket.off("drain", onDrain)
      socket.off("error", onFailure)
      socket.off("close", onFailure)
    }
    const onDrain = () => {
      cleanup()
      resume(Effect.void)
    }
    const onFailure = () => {
      cleanup()
      resume(Effect.fail(failure()))
    }
    socket.on("drain", onDrain)
    socket.on("error", onFailure)
    socket.on("close", onFailure)
    return Effect.sync(cleanup)
  })
  // Only a write that has to wait pays for a timer.
  return timeout === undefined ? drained : Effect.timeoutOrElse(drained, {
    duration: timeout.duration,
    orElse: () => Effect.fail(new TimeoutError({ operation: timeout.operation, timeout: timeout.duration }))
  })
}

/**
 * Bounds the wait for the peer's side of a graceful close. Wall-clock on
 * purpose: it is a safety valve against a peer that never closes, not a
 * user-visible timeout, and it must not hang a test that runs on TestClock.
 */
const closeGraceMillis = 1_000

/**
 * Ends `socket` (FIN, after TLS's close_notify) and waits for the peer's
 * side, at most `closeGraceMillis`; `destroy` then destroys every socket of
 * the connection. `before` runs first, in the same synchronous step.
 *
 * @internal
 */
export const socketClose = (socket: Net.Socket, before: () => void, destroy: () => void): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    before()
    const finish = () => {
      clearTimeout(timer)
      socket.off("close", finish)
      destroy()
      resume(Effect.void)
    }
    const timer = setTimeout(finish, closeGraceMillis)
    socket.on("close", finish)
    socket.end()
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.off("close", finish)
      destroy()
    })
  })
