import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { SmtpCommandError, SocketError } from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"
import type { Socket } from "../Socket.js"
import * as commands from "./commands.js"
import * as envelope from "./envelope.js"
import { rset } from "./failure.js"
import * as handshake from "./handshake.js"
import * as outgoing from "./outgoing.js"
import { text } from "./reply.js"
import type { SessionState } from "./sessionState.js"
import * as transaction from "./transaction.js"
import * as wires from "./wire.js"

/**
 * `SmtpProtocol` over a `Socket`: connect, open the session (handshake), and
 * hand out a `Session` whose every method is one exchange on the wire.
 */

/** Saying goodbye never holds a close longer than this. */
const quitTimeoutCap = Duration.seconds(10)

/** @internal */
export const make = (socketTag: typeof Socket) =>
  Effect.map(socketTag, (socket): SmtpProtocol.SmtpProtocolService => ({
    connect: (options) =>
      Effect.gen(function*() {
        const ehloName = options.ehloName ?? "[127.0.0.1]"
        const invalid = commands.checkEhloName(ehloName)
        if (invalid !== undefined) return yield* invalid
        const connection = yield* socket.connect({
          host: options.host,
          port: options.port,
          tls: options.security === "tls" ? { ...options.tls, servername: options.tls?.servername } : undefined,
          timeout: options.timeouts.connect
        })
        options.onTransport?.(connection.remoteAddress)
        const wire = yield* wires.make(connection, {
          timeouts: Object.values(options.timeouts),
          protocolLog: options.protocolLog
        })
        const opened = yield* handshake.open(wire, options, ehloName)
        const state: SessionState = {
          wire,
          host: options.host,
          port: options.port,
          timeouts: options.timeouts,
          waits: envelope.waitsFor(options.timeouts),
          clock: yield* Clock.Clock,
          greeting: opened.greeting,
          capabilities: opened.capabilities,
          lmtp: options.protocol === "lmtp",
          encrypted: yield* connection.isTls,
          peerVerification: connection.peerVerification === undefined ? undefined : yield* connection.peerVerification,
          ahead: undefined,
          pipelineAfterData: options.pipelineAfterData ?? true,
          onPipelineAfterDataRefused: options.onPipelineAfterDataRefused,
          current: undefined
        }
        return session(state)
      })
  }))

const session = (state: SessionState): SmtpProtocol.Session => {
  const { wire } = state
  const command = { timeout: state.timeouts.command, operation: "NOOP" }
  return {
    host: state.host,
    port: state.port,
    remoteAddress: wire.connection.remoteAddress,
    greeting: state.greeting,
    capabilities: Effect.succeed(state.capabilities),
    isTls: wire.connection.isTls,
    broken: Effect.sync(wire.broken),
    interrupted: Effect.sync(wire.interrupted),
    awaitingFinalReply: Effect.sync(() =>
      state.current !== undefined && state.current.endWritten && !state.current.replied
    ),
    authenticate: (credentials) =>
      wire.exchange(handshake.authenticate(wire, {
        host: state.host,
        port: state.port,
        offered: state.capabilities.auth,
        timeouts: state.timeouts
      }, credentials)),
    send: (message, options) =>
      wire.exchange(transaction.send(state, outgoing.of(message), {
        ahead: options?.pipelineNext === undefined ? undefined : outgoing.of(options.pipelineNext),
        progress: options?.progress,
        beforeEndOfData: options?.beforeEndOfData
      })),
    rset: wire.exchange(rset(state)),
    noop: wire.exchange(Effect.flatMap(wire.command(commands.noop, command), (reply) =>
      reply.code === 250
        ? Effect.void
        : Effect.fail(
          new SmtpCommandError({
            command: "NOOP",
            statusCode: reply.code,
            enhancedStatusCode: reply.enhancedCode,
            serverMessage: text(reply)
          })
        ))),
    quit: quit(state),
    watchIdle: wire.connection.awaitRead === undefined ? undefined : watchIdle(state)
  }
}

/** QUIT, bounded: in a finalizer only a timeout can end the wait for its reply. */
const quit = (state: SessionState): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { wire } = state
    // Out of step (or with a message's commands in flight): no goodbye, the socket just closes.
    if (wire.broken() !== undefined || wire.interrupted() || state.ahead !== undefined) return
    // Quit usually runs in a finalizer, which is uninterruptible: there a
    // timeout cannot stop the wait for the reply, so a silent server would
    // hold the close (and connection.duration) forever. In a child fiber of
    // its own, only the timeout can end it: an interruption pending on the
    // caller (a pool shutting down) neither skips the goodbye nor hangs it.
    const goodbye = yield* Effect.forkChild(Effect.interruptible(
      wire.command(commands.quit, {
        timeout: Duration.min(state.timeouts.command, quitTimeoutCap),
        operation: "QUIT"
      })
    ))
    yield* Effect.exit(Fiber.join(goodbye))
    yield* wire.connection.close
  })

/** Watches an idle session: anything the server sends (or a close) marks it gone. */
const watchIdle = (state: SessionState) => (onGone: () => void): () => void => {
  const { wire } = state
  const awaitRead = wire.connection.awaitRead
  if (awaitRead === undefined) return () => {}
  let watching = true
  const cancel = awaitRead(() => {
    if (!watching) return
    watching = false
    // Whatever arrived (a goodbye, the end, a reset), the server is done
    // with this session: no QUIT, no further transaction.
    wire.markBroken(
      new SocketError({
        operation: "closed",
        host: state.host,
        port: state.port,
        address: wire.connection.remoteAddress,
        cause: new Error("the server closed the idle connection")
      })
    )
    onGone()
  })
  return () => {
    watching = false
    cancel()
  }
}
