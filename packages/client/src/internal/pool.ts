import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { PoolOptions } from "../SmtpClient.js"
import type { SmtpError } from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"
import { Fifo } from "./fifo.js"

/**
 * Connection pooling. A send borrows a connection for its transaction
 * (`use`) and gives it back once. When another send is waiting, its MAIL,
 * RCPT and DATA ride ahead, behind the current body's end (RFC 2920 §3.1), and the
 * connection passes straight to it, so a busy connection needs one round
 * trip per message.
 */

/** One pooled connection. */
interface Pooled {
  readonly session: SmtpProtocol.Session
  readonly scope: Scope.Closeable
  messages: number
  lastUsed: number
  readonly openedAt: number
  /** Stops the watch on an idle connection (set while it is in the idle list). */
  unwatch: (() => void) | undefined
}

/** What a waiting send is handed: a connection, or one of the pool's places to open one in. */
type Grant =
  | {
    readonly _tag: "Connection"
    readonly pooled: Pooled
    /** Straight from the previous send: this send's commands may already be on the wire, ahead behind that body. */
    readonly fromSend: boolean
  }
  | { readonly _tag: "Open" }

const openGrant: Grant = { _tag: "Open" }

/** A send waiting for a connection. */
interface Waiter {
  readonly message: SmtpProtocol.Outgoing<unknown>
  resume: ((grant: Effect.Effect<Grant>) => void) | undefined
  /** Set when handed something; `claimed` once the send took it. */
  granted: Grant | undefined
  claimed: boolean
  cancelled: boolean
}

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

/** @internal */
export const make = (
  options: PoolOptions,
  /** Opens a connected, authenticated session in the given scope. */
  openSession: Effect.Effect<SmtpProtocol.Session, SmtpError, Scope.Scope>
): Effect.Effect<Pool, never, Scope.Scope> =>
  Effect.gen(function*() {
    const maxConnections = Math.max(1, options.maxConnections ?? 5)
    const maxMessages = Math.max(1, options.maxMessagesPerConnection ?? 100)
    const idleTimeToLive = Duration.toMillis(options.idleTimeToLive ?? Duration.seconds(30))
    const checkIdleAfter = Duration.toMillis(options.checkIdleAfter ?? Duration.seconds(5))
    const maxAge = options.maxAge === undefined ? Number.POSITIVE_INFINITY : Duration.toMillis(options.maxAge)
    const clock = yield* Clock.Clock
    const poolScope = yield* Effect.scope
    // A watch fires from the transport's callback, outside any fiber.
    const runFork = Effect.runForkWith(yield* Effect.context<never>())

    /** Free connections, the most recently used last: busy ones stay warm, the rest idle out. */
    const idle: Array<Pooled> = []
    const waiting = new Fifo<Waiter>()
    /** Connections open or being opened. */
    let places = 0
    let closed = false
    let wakeReaper: (() => void) | undefined = undefined

    const give = (waiter: Waiter, grant: Grant): void => {
      waiter.granted = grant
      const resume = waiter.resume
      waiter.resume = undefined
      // Effect 4 runs a resumed fiber on the resumer's stack: the waiter goes
      // to the scheduler instead, so the giver finishes its own send (its
      // caller sees the result) rather than waiting below every send the
      // connection carries next while replies keep arriving at once.
      resume?.(Effect.andThen(Effect.yieldNow, Effect.succeed(grant)))
    }

    const nextWaiter = (): Waiter | undefined => {
      for (let waiter = waiting.shift(); waiter !== undefined; waiter = waiting.shift()) {
        if (!waiter.cancelled) return waiter
      }
      return undefined
    }

    /** A place left free: the next waiter opens a connection in it. */
    const freePlace = (): void => {
      const waiter = closed ? undefined : nextWaiter()
      if (waiter === undefined) places--
      else give(waiter, openGrant)
    }

    /**
     * Closes a connection (QUIT when it is still in step) without holding up
     * the send that used it. The close starts at once, in a fiber of the
     * pool's that nothing interrupts: a fiber merely scheduled would wait for
     * the event loop's next turn, and one the pool's closing scope interrupted
     * before it ran would leave the socket open.
     */
    const retire = (pooled: Pooled): Effect.Effect<void> =>
      Effect.asVoid(
        Effect.forkIn(Scope.close(pooled.scope, Exit.void), poolScope, {
          startImmediately: true,
          uninterruptible: true
        })
      )

    const tooOld = (pooled: Pooled): boolean => clock.currentTimeMillisUnsafe() - pooled.openedAt >= maxAge

    /** Out of the idle list, its watch stopped, before anything else uses or closes it. */
    const leaveIdle = (pooled: Pooled): Pooled => {
      const unwatch = pooled.unwatch
      pooled.unwatch = undefined
      unwatch?.()
      return pooled
    }

    /**
     * An idle connection the server closed, reset or said goodbye on: out of
     * the pool at once, its place free, so no send is ever lent it.
     */
    const gone = (pooled: Pooled): void => {
      const at = idle.indexOf(pooled)
      if (at < 0 || closed) return
      idle.splice(at, 1)
      leaveIdle(pooled)
      freePlace()
      runFork(retire(pooled))
    }

    /** A connection in step and free: to the next waiter, or to the idle list, watched. */
    const putBack = (pooled: Pooled): void => {
      const waiter = closed ? undefined : nextWaiter()
      if (waiter !== undefined) {
        give(waiter, { _tag: "Connection", pooled, fromSend: true })
        return
      }
      idle.push(pooled)
      // May fire at once, when the end already arrived.
      pooled.unwatch = pooled.session.watchIdle?.(() => gone(pooled))
      const wake = wakeReaper
      wakeReaper = undefined
      wake?.()
    }

    const acquire = (waiter: Waiter): Effect.Effect<Grant> =>
      Effect.suspend(() => {
        if (closed) return Effect.interrupt
        const pooled = idle.pop()
        if (pooled !== undefined) {
          return Effect.succeed({ _tag: "Connection", pooled: leaveIdle(pooled), fromSend: false })
        }
        if (places < maxConnections) {
          places++
          return Effect.succeed(openGrant)
        }
        return Effect.onInterrupt(
          Effect.callback<Grant>((resume) => {
            waiter.resume = resume
            waiting.push(waiter)
          }),
          () => Effect.suspend(() => unclaimed(waiter))
        )
      })

    /**
     * A waiter interrupted in the line is skipped when its turn comes; one
     * interrupted just as it was handed something gives it back: a place to
     * open a connection in, or a connection that may carry its commands with
     * nobody left to read the replies, which is retired.
     */
    const unclaimed = (waiter: Waiter): Effect.Effect<void> => {
      waiter.cancelled = true
      waiter.resume = undefined
      const grant = waiter.granted
      if (grant === undefined || waiter.claimed) return Effect.void
      waiter.claimed = true
      freePlace()
      return grant._tag === "Open" ? Effect.void : retire(grant.pooled)
    }

    const open = Effect.gen(function*() {
      const scope = yield* Scope.make()
      const session = yield* Effect.onError(
        Scope.provide(openSession, scope),
        (cause) => Scope.close(scope, Exit.failCause(cause))
      )
      const now = clock.currentTimeMillisUnsafe()
      const pooled: Pooled = { session, scope, messages: 0, lastUsed: now, openedAt: now, unwatch: undefined }
      return pooled
    })

    /** Whether a connection that sat idle is young enough and still answers. */
    const stillAlive = (pooled: Pooled): Effect.Effect<boolean> =>
      tooOld(pooled)
        ? Effect.succeed(false)
        : clock.currentTimeMillisUnsafe() - pooled.lastUsed < checkIdleAfter
        ? Effect.succeed(true)
        : Effect.isSuccess(pooled.session.noop)

    /** A connection for a send: handed over, idle and checked, or opened now. */
    const ready = (grant: Grant, loan: Loan): Effect.Effect<Pooled, SmtpError> => {
      // Straight from the previous send: in use a moment ago, no check needed.
      if (grant._tag === "Connection" && grant.fromSend) return Effect.succeed(grant.pooled)
      return Effect.gen(function*() {
        const checked = grant._tag === "Connection" ? grant.pooled : undefined
        if (checked !== undefined && (yield* stillAlive(checked))) return checked
        return yield* replace(checked, loan)
      })
    }

    /**
     * A fresh connection in the place of `old` (dead, too old, or failed
     * before the message went out); `old` closes beside it, so a goodbye to
     * one that is merely too old does not hold up the send.
     */
    const replace = (old: Pooled | undefined, loan: Loan): Effect.Effect<Pooled, SmtpError> =>
      Effect.gen(function*() {
        if (old !== undefined) {
          loan.pooled = undefined
          yield* retire(old)
        }
        const opened = yield* open
        loan.pooled = opened
        return opened
      })

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

    /**
     * The connection back from a send: it passes on (to the send whose
     * commands ride behind, if any), goes idle, or retires. Runs once per
     * send, as soon as the session is done with the message.
     */
    const takeBack = (loan: Loan, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
      Effect.suspend(() => {
        const { pooled, ahead } = loan
        if (pooled === undefined) {
          // Never opened (failed or interrupted): the place goes on.
          freePlace()
          return Effect.void
        }
        const { session } = pooled
        return Effect.flatMap(session.broken, (broken) =>
          Effect.flatMap(session.interrupted, (interrupted) => {
            pooled.messages++
            pooled.lastUsed = clock.currentTimeMillisUnsafe()
            // A connection that failed, was interrupted mid-exchange, or has
            // carried its share is never handed out again. Nor is one whose
            // next send is gone, or never began, while its commands may be in
            // flight.
            const unusable = broken !== undefined || interrupted || closed ||
              pooled.messages >= maxMessages || tooOld(pooled) || ahead?.cancelled === true ||
              (loan.fromSend && !loan.started && Exit.hasInterrupts(exit))
            if (!unusable) {
              if (ahead === undefined) {
                putBack(pooled)
                return Effect.void
              }
              give(ahead, { _tag: "Connection", pooled, fromSend: true })
              // The next send's body goes out first; this one's bookkeeping
              // then overlaps the server's work on it.
              return Effect.yieldNow
            }
            if (ahead === undefined || ahead.cancelled || closed) {
              if (ahead !== undefined && !ahead.cancelled) ahead.resume?.(Effect.interrupt)
              freePlace()
            } else {
              // The send behind opens a fresh connection in this one's place.
              give(ahead, openGrant)
            }
            return retire(pooled)
          }))
      })

    const use: Pool["use"] = (message, transaction, again) =>
      Effect.uninterruptibleMask((restore) => {
        const waiter: Waiter = { message, resume: undefined, granted: undefined, claimed: false, cancelled: false }
        return Effect.flatMap(restore(acquire(waiter)), (grant) => {
          waiter.claimed = true
          const loan: Loan = {
            pooled: grant._tag === "Connection" ? grant.pooled : undefined,
            ahead: undefined,
            fromSend: grant._tag === "Connection" && grant.fromSend,
            started: false
          }
          const lent = Effect.flatMap(ready(grant, loan), (pooled) => {
            const ahead = pooled.messages + 1 < maxMessages ? nextWaiter() : undefined
            loan.ahead = ahead
            loan.started = true
            const sent = transaction(pooled.session, ahead?.message)
            // A connection that carried messages before may have been closed
            // by the server since: the message goes once more, on a fresh one.
            if (again === undefined || pooled.messages === 0) return sent
            return Effect.catch(sent, (error) =>
              again(error)
                ? Effect.flatMap(replace(pooled, loan), (fresh) => transaction(fresh.session, loan.ahead?.message))
                : Effect.fail(error))
          })
          return Effect.onExit(restore(lent), (exit) => takeBack(loan, exit))
        })
      })

    /** Closes connections idle longer than `idleTimeToLive`, on Effect's Clock. */
    const reaper: Effect.Effect<never> = Effect.forever(Effect.suspend(() => {
      const oldest = idle[0]
      if (oldest === undefined) {
        return Effect.callback<void>((resume) => {
          wakeReaper = () => resume(Effect.void)
        })
      }
      const now = clock.currentTimeMillisUnsafe()
      const expiresAt = oldest.lastUsed + idleTimeToLive
      if (now < expiresAt) return Effect.sleep(Duration.millis(expiresAt - now))
      leaveIdle(oldest)
      idle.shift()
      places--
      return Effect.uninterruptible(Scope.close(oldest.scope, Exit.void))
    }))
    yield* Effect.forkScoped(reaper)

    // On shutdown, sends still waiting are interrupted and idle connections say goodbye.
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        for (const waiter of waiting.drain()) {
          const resume = waiter.resume
          waiter.resume = undefined
          resume?.(Effect.interrupt)
        }
        const closing = idle.splice(0).map(leaveIdle)
        places -= closing.length
        return Effect.forEach(closing, (pooled) => Scope.close(pooled.scope, Exit.void), {
          concurrency: "unbounded",
          discard: true
        })
      })
    )

    return { use }
  })
