import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import { isSmtpError, SmtpCommandError, type SmtpError, SmtpProtocolError, TimeoutError } from "../SmtpError.js"
import type { ProtocolLogOptions } from "../SmtpProtocol.js"
import type { Connection, TlsOptions } from "../Socket.js"
import * as protocolLog from "./protocolLog.js"
import * as readTimer from "./readTimer.js"
import { type Reply, ReplyParser, text } from "./reply.js"
import * as slab from "./slab.js"

/**
 * The wire: one SMTP connection's bytes. It owns the reply parser, every read
 * (`poll` for what already arrived, a timed wait for the rest), the reply
 * timer, the protocol log, and whether the session is still in step with the
 * server. The protocol above writes and reads only through it, so there is
 * one way to write, one way to read a reply, and one place (`fail`) where a
 * session is marked broken.
 *
 * @internal
 */
export interface Wire {
  readonly connection: Connection
  /** The error that left the session out of step (I/O, timeout, protocol, 421), if one did. */
  readonly broken: () => SmtpError | undefined
  /** Interrupted mid-exchange: the server's state is unknown. */
  readonly interrupted: () => boolean
  /** Fails with `error`, marking the session broken when the error leaves it out of step. */
  readonly fail: (error: SmtpError) => Effect.Effect<never, SmtpError>
  /** Marks the session broken by something the wire did not see (a body stream that failed mid-DATA). */
  readonly markBroken: (error: SmtpError) => void
  /**
   * Hands `bytes` to the transport; `logged` says what they are, for the
   * protocol log (called only when it is on, in the order they are written).
   */
  readonly write: (
    bytes: Uint8Array,
    wait: Wait,
    logged?: (() => ReadonlyArray<Logged>) | undefined
  ) => Effect.Effect<void, SmtpError>
  /** Writes command lines; `secret` keeps all but the verb out of the log. */
  readonly writeLines: (lines: string, wait: Wait, secret?: string | undefined) => Effect.Effect<void, SmtpError>
  /** The next reply. A 421 fails the exchange: the server is closing the channel. */
  readonly reply: (wait: Wait) => Effect.Effect<Reply, SmtpError>
  /**
   * The replies to a pipelined group, in order. Those already received are
   * taken without a wait (on a busy connection they arrive with the previous
   * message's final reply); only a missing one is waited for, and timed.
   */
  readonly replies: (waits: ReadonlyArray<Wait>) => Effect.Effect<Array<Reply>, SmtpError>
  /** One command line and its reply. */
  readonly command: (line: string, wait: Wait, secret?: string | undefined) => Effect.Effect<Reply, SmtpError>
  /**
   * Starts TLS after the server's 220 to STARTTLS. Bytes that followed that
   * reply are the response-injection attack (they would be taken as replies
   * sent over TLS): the session fails instead.
   */
  readonly startTls: (options: TlsOptions, timeout: Duration.Duration) => Effect.Effect<void, SmtpError>
  /**
   * Runs one exchange with the server (a command and its replies, a whole
   * transaction): interrupted part way, the session is out of step.
   */
  readonly exchange: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E>
}

/** How long a read or a write may wait, and what it was for (named in a `TimeoutError`). */
export interface Wait {
  readonly timeout: Duration.Duration
  readonly operation: string
}

/** What a write carried, as the protocol log shows it. */
export type Logged =
  | { readonly _tag: "Lines"; readonly lines: string }
  | { readonly _tag: "Body"; readonly bytes: Uint8Array }

/** Errors after which the connection cannot be trusted to be in step. */
const breaksSession = (error: SmtpError): boolean =>
  error._tag === "SocketError" || error._tag === "SmtpProtocolError" || error._tag === "TimeoutError" ||
  error._tag === "TlsError" || (error._tag === "SmtpCommandError" && error.statusCode === 421)

const closing = (reply: Reply, operation: string): SmtpCommandError =>
  new SmtpCommandError({
    command: operation,
    statusCode: reply.code,
    enhancedStatusCode: reply.enhancedCode,
    serverMessage: text(reply)
  })

/** One wire's state, shared by its parts below. */
interface State {
  readonly connection: Connection
  /** The transport's reads, taken once when the wire is made. */
  readonly poll: Connection["poll"]
  readonly awaitRead: Connection["awaitRead"]
  /** Replaced after STARTTLS: nothing read in plaintext counts after the handshake. */
  parser: ReplyParser
  broken: SmtpError | undefined
  interrupted: boolean
  readonly log: protocolLog.ProtocolLog | undefined
  readonly timer: readTimer.ReadTimer | undefined
  /** `fail` bound to this wire, made once: it is the catch of every read and write. */
  readonly fail: (error: SmtpError) => Effect.Effect<never, SmtpError>
}

/** @internal */
export const make = (
  connection: Connection,
  options: {
    /** Every timeout the session uses: the reply timer's step is the shortest. */
    readonly timeouts: ReadonlyArray<Duration.Duration>
    readonly protocolLog?: boolean | ProtocolLogOptions | undefined
  }
): Effect.Effect<Wire, never, Scope.Scope> =>
  Effect.gen(function*() {
    const state: State = {
      connection,
      poll: connection.poll,
      awaitRead: connection.awaitRead,
      parser: new ReplyParser(),
      broken: undefined,
      interrupted: false,
      log: protocolLog.make(options.protocolLog),
      // Timed by a per-session watchdog where the transport allows it (see readTimer).
      timer: connection.awaitRead === undefined ? undefined : yield* readTimer.make(options.timeouts),
      fail: (error) => fail(state, error)
    }
    const writeLines = linesWriter(state)
    const reply = (wait: Wait) => readReply(state, wait)
    return {
      connection,
      broken: () => state.broken,
      interrupted: () => state.interrupted,
      fail: state.fail,
      markBroken: (error) => markBroken(state, error),
      write: writer(state),
      writeLines,
      reply,
      replies: (waits) => replies(state, waits),
      command: (line, wait, secret) => Effect.andThen(writeLines(line, wait, secret), reply(wait)),
      startTls: (tls, timeout) => startTls(state, tls, timeout),
      exchange: (effect) => exchange(state, effect)
    }
  })

const markBroken = (state: State, error: SmtpError): void => {
  if (state.broken === undefined && breaksSession(error)) state.broken = error
}

const fail = (state: State, error: SmtpError): Effect.Effect<never, SmtpError> => {
  markBroken(state, error)
  return Effect.fail(error)
}

/** A reply from what already arrived (or why it cannot be parsed); `undefined` when more must come. */
const buffered = (state: State): Reply | SmtpProtocolError | undefined => {
  const { parser, poll } = state
  const ready = parser.take()
  if (ready !== undefined || poll === undefined) return ready
  for (let chunk = poll(); chunk !== undefined; chunk = poll()) {
    const error = parser.push(chunk)
    if (error !== undefined) return error
    const reply = parser.take()
    if (reply !== undefined) return reply
  }
  return undefined
}

/** The chunk pushed to the parser: a complete reply, why it cannot be parsed, or `undefined` for more. */
const untilReply = (state: State, chunk: Uint8Array): Reply | SmtpProtocolError | undefined => {
  const error = state.parser.push(chunk)
  return error ?? state.parser.take()
}

/** Chunks until a reply is complete, within `wait`. */
const awaitReply = (state: State, wait: Wait): Effect.Effect<Reply, SmtpError> => {
  const { timer, connection, awaitRead } = state
  const at = timer === undefined ? 0 : timer.now() + Duration.toMillis(wait.timeout)
  if (timer !== undefined && awaitRead !== undefined && timer.covers(at)) {
    const timed: Effect.Effect<Reply, SmtpError> = Effect.flatMap(
      timer.readBy(at, wait.timeout, wait.operation, awaitRead),
      (chunk) => {
        const got = untilReply(state, chunk)
        return got === undefined ? timed : got instanceof SmtpProtocolError ? state.fail(got) : Effect.succeed(got)
      }
    )
    return Effect.catch(timed, state.fail)
  }
  // A wait too short for the watchdog (QUIT's cap, tiny test timeouts), or a transport without `awaitRead`.
  const loop: Effect.Effect<Reply, SmtpError> = Effect.flatMap(connection.read, (chunk) => {
    const got = untilReply(state, chunk)
    return got === undefined ? loop : got instanceof SmtpProtocolError ? Effect.fail(got) : Effect.succeed(got)
  })
  return Effect.catch(
    Effect.timeoutOrElse(loop, {
      duration: wait.timeout,
      orElse: () => Effect.fail(new TimeoutError({ operation: wait.operation, timeout: wait.timeout }))
    }),
    state.fail
  )
}

/**
 * A complete reply, or why there is none. The log sees every reply, taken
 * from the buffer or waited for alike; a 421 ends the session whatever was
 * asked: the server is closing the channel.
 */
const settle = (state: State, got: Reply | SmtpProtocolError, wait: Wait): Effect.Effect<Reply, SmtpError> => {
  if (got instanceof SmtpProtocolError) return fail(state, got)
  const outcome = got.code === 421 ? fail(state, closing(got, wait.operation)) : Effect.succeed(got)
  return state.log === undefined ? outcome : Effect.andThen(state.log.server(got), outcome)
}

const readReply = (state: State, wait: Wait): Effect.Effect<Reply, SmtpError> => {
  const ready = buffered(state)
  return ready !== undefined
    ? settle(state, ready, wait)
    : Effect.flatMap(awaitReply(state, wait), (got) => settle(state, got, wait))
}

const replies = (state: State, waits: ReadonlyArray<Wait>): Effect.Effect<Array<Reply>, SmtpError> => {
  const got: Array<Reply> = []
  const more: Effect.Effect<Array<Reply>, SmtpError> = Effect.suspend(() => {
    while (got.length < waits.length) {
      const wait = waits[got.length]
      const ready = buffered(state)
      // Usually every reply is already here: no effect per reply unless one must be waited for or logged.
      if (ready === undefined || state.log !== undefined || ready instanceof SmtpProtocolError || ready.code === 421) {
        const next = ready === undefined ? readReply(state, wait) : settle(state, ready, wait)
        return Effect.flatMap(next, (r) => {
          got.push(r)
          return more
        })
      }
      got.push(ready)
    }
    return Effect.succeed(got)
  })
  return more
}

const transmit = (state: State, bytes: Uint8Array, wait: Wait): Effect.Effect<void, SmtpError> =>
  Effect.catch(state.connection.write(bytes, { duration: wait.timeout, operation: wait.operation }), state.fail)

/** The wire's `write`: chosen once, so a session without the protocol log pays nothing for it. */
const writer = (state: State): Wire["write"] => {
  const { log } = state
  return log === undefined
    ? (bytes, wait) => transmit(state, bytes, wait)
    : (bytes, wait, logged) =>
      Effect.andThen(
        Effect.forEach(
          logged?.() ?? [],
          (entry) => entry._tag === "Lines" ? log.client(entry.lines) : log.body(entry.bytes),
          { discard: true }
        ),
        transmit(state, bytes, wait)
      )
}

/** The wire's `writeLines`, chosen once as `write` is. */
const linesWriter = (state: State): Wire["writeLines"] => {
  const { log } = state
  return log === undefined
    ? (lines, wait) => transmit(state, slab.encode(lines), wait)
    : (lines, wait, secret) =>
      Effect.andThen(
        secret === undefined ? log.client(lines) : log.clientSecret(secret),
        transmit(state, slab.encode(lines), wait)
      )
}

const startTls = (state: State, tls: TlsOptions, timeout: Duration.Duration): Effect.Effect<void, SmtpError> => {
  if (state.parser.hasBuffered) {
    return fail(
      state,
      new SmtpProtocolError({
        reason: "StartTlsInjection",
        detail: "Bytes followed the 220 reply to STARTTLS in the same read."
      })
    )
  }
  const handshake = Effect.timeoutOrElse(state.connection.upgradeTls(tls), {
    duration: timeout,
    orElse: () => Effect.fail(new TimeoutError({ operation: "the TLS handshake after STARTTLS", timeout }))
  })
  return Effect.matchEffect(handshake, {
    onFailure: (error: unknown) => isSmtpError(error) ? fail(state, error) : Effect.die(error),
    onSuccess: () =>
      Effect.sync(() => {
        // RFC 3207 §4.2: nothing read in plaintext counts after the handshake.
        state.parser = new ReplyParser()
      })
  })
}

const exchange = <A, E>(state: State, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.onExit(effect, (exit) => {
    if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)) state.interrupted = true
    return Effect.void
  })
