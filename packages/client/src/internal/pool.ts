import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { PoolOptions } from "../SmtpClient.js"
import type { SmtpError } from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"
import { Fifo } from "./fifo.js"
import {
  acquire,
  freePlace,
  give,
  type Grant,
  nextWaiter,
  openGrant,
  type Pooled,
  putBack,
  reaper,
  retire,
  shutdown,
  type State,
  tooOld,
  type Waiter
} from "./poolState.js"

/**
 * Connection pooling. A send borrows a connection for its transaction
 * (`use`) and gives it back once. When another send is waiting, its MAIL,
 * RCPT and DATA ride ahead, behind the current body's end (RFC 2920 §3.1), and the
 * connection passes straight to it, so a busy connection needs one round
 * trip per message.
 */

/**
 * A pool: `use(message, transaction)` lends a connection to `transaction`
 * with the message whose commands may ride ahead, behind this one's body, and takes
 * it back once the transaction ends.
 *
 * @internal
 */
export interface Pool {
  readonly use: <A, E>(
    message: SmtpProtocol.Outgoing<unknown>,
    transaction: (
      session: SmtpProtocol.Session,
      ahead: SmtpProtocol.Outgoing<unknown> | undefined
    ) => Effect.Effect<A, E>,
    /**
     * Whether a transaction that failed on a reused connection may run once
     * more on a fresh one: only when nothing of the message went out (the
     * caller knows; the pool knows the connection was reused).
     */
    again?: ((error: E | SmtpError) => boolean) | undefined
  ) => Effect.Effect<A, E | SmtpError>
}

/** What one send holds, for the connection's return. */
interface Loan {
  pooled: Pooled | undefined
  /** The waiter whose commands ride ahead, behind this message's body. */
  ahead: Waiter | undefined
  /** Handed straight over by the previous send, whose body may carry this one's commands. */
  readonly fromSend: boolean
  /** The transaction began: from here the session knows whether it is in step. */
  started: boolean
}

/** @internal */
export const make = (
  options: PoolOptions,
  /** Opens a connected, authenticated session in the given scope. */
  openSession: Effect.Effect<SmtpProtocol.Session, SmtpError, Scope.Scope>
): Effect.Effect<Pool, never, Scope.Scope> =>
  Effect.gen(function*() {
    const state: State = {
      maxConnections: Math.max(1, options.maxConnections ?? 5),
      maxMessages: Math.max(1, options.maxMessagesPerConnection ?? 100),
      idleTimeToLive: Duration.toMillis(options.idleTimeToLive ?? Duration.seconds(30)),
      checkIdleAfter: Duration.toMillis(options.checkIdleAfter ?? Duration.seconds(5)),
      maxAge: options.maxAge === undefined ? Number.POSITIVE_INFINITY : Duration.toMillis(options.maxAge),
      openSession,
      clock: yield* Clock.Clock,
      poolScope: yield* Effect.scope,
      runFork: Effect.runForkWith(yield* Effect.context<never>()),
      idle: [],
      waiting: new Fifo<Waiter>(),
      places: 0,
      closed: false,
      wakeReaper: undefined
    }
    yield* Effect.forkScoped(reaper(state))
    yield* Effect.addFinalizer(() => shutdown(state))
    return { use: (message, transaction, again) => use(state, message, transaction, again) }
  })

const open = (state: State): Effect.Effect<Pooled, SmtpError> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const session = yield* Effect.onError(
      Scope.provide(state.openSession, scope),
      (cause) => Scope.close(scope, Exit.failCause(cause))
    )
    const now = state.clock.currentTimeMillisUnsafe()
    const pooled: Pooled = { session, scope, messages: 0, lastUsed: now, openedAt: now, unwatch: undefined }
    return pooled
  })

/** Whether a connection that sat idle is young enough and still answers. */
const stillAlive = (state: State, pooled: Pooled): Effect.Effect<boolean> =>
  tooOld(state, pooled)
    ? Effect.succeed(false)
    : state.clock.currentTimeMillisUnsafe() - pooled.lastUsed < state.checkIdleAfter
    ? Effect.succeed(true)
    : Effect.isSuccess(pooled.session.noop)

/** A connection for a send: handed over, idle and checked, or opened now. */
const ready = (state: State, grant: Grant, loan: Loan): Effect.Effect<Pooled, SmtpError> => {
  // Straight from the previous send: in use a moment ago, no check needed.
  if (grant._tag === "Connection" && grant.fromSend) return Effect.succeed(grant.pooled)
  return Effect.gen(function*() {
    const checked = grant._tag === "Connection" ? grant.pooled : undefined
    if (checked !== undefined && (yield* stillAlive(state, checked))) return checked
    return yield* replace(state, checked, loan)
  })
}

/**
 * A fresh connection in the place of `old` (dead, too old, or failed
 * before the message went out); `old` closes beside it, so a goodbye to
 * one that is merely too old does not hold up the send.
 */
const replace = (state: State, old: Pooled | undefined, loan: Loan): Effect.Effect<Pooled, SmtpError> =>
  Effect.gen(function*() {
    if (old !== undefined) {
      loan.pooled = undefined
      yield* retire(state, old)
    }
    const opened = yield* open(state)
    loan.pooled = opened
    return opened
  })

/**
 * The connection back from a send: it passes on (to the send whose
 * commands ride behind, if any), goes idle, or retires. Runs once per
 * send, as soon as the session is done with the message.
 */
const takeBack = (state: State, loan: Loan, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
  Effect.suspend(() => {
    const { pooled, ahead } = loan
    if (pooled === undefined) {
      // Never opened (failed or interrupted): the place goes on.
      freePlace(state)
      return Effect.void
    }
    const { session } = pooled
    return Effect.flatMap(session.broken, (broken) =>
      Effect.flatMap(session.interrupted, (interrupted) => {
        pooled.messages++
        pooled.lastUsed = state.clock.currentTimeMillisUnsafe()
        // A connection that failed, was interrupted mid-exchange, or has
        // carried its share is never handed out again. Nor is one whose
        // next send is gone, or never began, while its commands may be in
        // flight.
        const unusable = broken !== undefined || interrupted || state.closed ||
          pooled.messages >= state.maxMessages || tooOld(state, pooled) || ahead?.cancelled === true ||
          (loan.fromSend && !loan.started && Exit.hasInterrupts(exit))
        if (!unusable) {
          if (ahead === undefined) {
            putBack(state, pooled)
            return Effect.void
          }
          give(ahead, { _tag: "Connection", pooled, fromSend: true })
          // The next send's body goes out first; this one's bookkeeping
          // then overlaps the server's work on it.
          return Effect.yieldNow
        }
        if (ahead === undefined || ahead.cancelled || state.closed) {
          if (ahead !== undefined && !ahead.cancelled) ahead.resume?.(Effect.interrupt)
          freePlace(state)
        } else {
          // The send behind opens a fresh connection in this one's place.
          give(ahead, openGrant)
        }
        return retire(state, pooled)
      }))
  })

const use = <A, E>(
  state: State,
  message: SmtpProtocol.Outgoing<unknown>,
  transaction: (
    session: SmtpProtocol.Session,
    ahead: SmtpProtocol.Outgoing<unknown> | undefined
  ) => Effect.Effect<A, E>,
  again: ((error: E | SmtpError) => boolean) | undefined
): Effect.Effect<A, E | SmtpError> =>
  Effect.uninterruptibleMask((restore) => {
    const waiter: Waiter = { message, resume: undefined, granted: undefined, claimed: false, cancelled: false }
    return Effect.flatMap(restore(acquire(state, waiter)), (grant) => {
      waiter.claimed = true
      const loan: Loan = {
        pooled: grant._tag === "Connection" ? grant.pooled : undefined,
        ahead: undefined,
        fromSend: grant._tag === "Connection" && grant.fromSend,
        started: false
      }
      const lent = Effect.flatMap(ready(state, grant, loan), (pooled) => {
        const ahead = pooled.messages + 1 < state.maxMessages ? nextWaiter(state) : undefined
        loan.ahead = ahead
        loan.started = true
        const sent = transaction(pooled.session, ahead?.message)
        // A connection that carried messages before may have been closed
        // by the server since: the message goes once more, on a fresh one.
        if (again === undefined || pooled.messages === 0) return sent
        return Effect.catch(sent, (error) =>
          again(error)
            ? Effect.flatMap(replace(state, pooled, loan), (fresh) => transaction(fresh.session, loan.ahead?.message))
            : Effect.fail(error))
      })
      return Effect.onExit(restore(lent), (exit) => takeBack(state, loan, exit))
    })
  })
