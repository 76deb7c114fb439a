import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { SmtpError } from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"
import type { Fifo } from "./fifo.js"

/**
 * The pool's state and who gets a connection next: the idle list (watched,
 * reaped after its time to live) and the line of waiting sends, the places
 * to open connections in, handing a connection or a place to a waiter,
 * retiring a connection, and shutdown. `pool.ts` lends and takes back.
 */

/** One pooled connection. */
export interface Pooled {
  readonly session: SmtpProtocol.Session
  readonly scope: Scope.Closeable
  messages: number
  lastUsed: number
  readonly openedAt: number
  /** Stops the watch on an idle connection (set while it is in the idle list). */
  unwatch: (() => void) | undefined
}

/** What a waiting send is handed: a connection, or one of the pool's places to open one in. */
export type Grant =
  | {
    readonly _tag: "Connection"
    readonly pooled: Pooled
    /** Straight from the previous send: this send's commands may already be on the wire, ahead behind that body. */
    readonly fromSend: boolean
  }
  | { readonly _tag: "Open" }

export const openGrant: Grant = { _tag: "Open" }

/** A send waiting for a connection. */
export interface Waiter {
  readonly message: SmtpProtocol.Outgoing<unknown>
  resume: ((grant: Effect.Effect<Grant>) => void) | undefined
  /** Set when handed something; `claimed` once the send took it. */
  granted: Grant | undefined
  claimed: boolean
  cancelled: boolean
}

/** The pool's settings and what it holds, shared by its parts below. */
export interface State {
  readonly maxConnections: number
  readonly maxMessages: number
  readonly idleTimeToLive: number
  readonly checkIdleAfter: number
  readonly maxAge: number
  /** Opens a connected, authenticated session in the given scope. */
  readonly openSession: Effect.Effect<SmtpProtocol.Session, SmtpError, Scope.Scope>
  readonly clock: Clock.Clock
  readonly poolScope: Scope.Scope
  /** A watch fires from the transport's callback, outside any fiber. */
  readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => unknown
  /** Free connections, the most recently used last: busy ones stay warm, the rest idle out. */
  readonly idle: Array<Pooled>
  readonly waiting: Fifo<Waiter>
  /** Connections open or being opened. */
  places: number
  closed: boolean
  wakeReaper: (() => void) | undefined
}

export const give = (waiter: Waiter, grant: Grant): void => {
  waiter.granted = grant
  const resume = waiter.resume
  waiter.resume = undefined
  // Effect 4 runs a resumed fiber on the resumer's stack: the waiter goes
  // to the scheduler instead, so the giver finishes its own send (its
  // caller sees the result) rather than waiting below every send the
  // connection carries next while replies keep arriving at once.
  resume?.(Effect.andThen(Effect.yieldNow, Effect.succeed(grant)))
}

export const nextWaiter = (state: State): Waiter | undefined => {
  for (let waiter = state.waiting.shift(); waiter !== undefined; waiter = state.waiting.shift()) {
    if (!waiter.cancelled) return waiter
  }
  return undefined
}

/** A place left free: the next waiter opens a connection in it. */
export const freePlace = (state: State): void => {
  const waiter = state.closed ? undefined : nextWaiter(state)
  if (waiter === undefined) state.places--
  else give(waiter, openGrant)
}

/**
 * Closes a connection (QUIT when it is still in step) without holding up
 * the send that used it. The close starts at once, in a fiber of the
 * pool's that nothing interrupts: a fiber merely scheduled would wait for
 * the event loop's next turn, and one the pool's closing scope interrupted
 * before it ran would leave the socket open.
 */
export const retire = (state: State, pooled: Pooled): Effect.Effect<void> =>
  Effect.asVoid(
    Effect.forkIn(Scope.close(pooled.scope, Exit.void), state.poolScope, {
      startImmediately: true,
      uninterruptible: true
    })
  )

export const tooOld = (state: State, pooled: Pooled): boolean =>
  state.clock.currentTimeMillisUnsafe() - pooled.openedAt >= state.maxAge

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
const gone = (state: State, pooled: Pooled): void => {
  const at = state.idle.indexOf(pooled)
  if (at < 0 || state.closed) return
  state.idle.splice(at, 1)
  leaveIdle(pooled)
  freePlace(state)
  state.runFork(retire(state, pooled))
}

/** A connection in step and free: to the next waiter, or to the idle list, watched. */
export const putBack = (state: State, pooled: Pooled): void => {
  const waiter = state.closed ? undefined : nextWaiter(state)
  if (waiter !== undefined) {
    give(waiter, { _tag: "Connection", pooled, fromSend: true })
    return
  }
  state.idle.push(pooled)
  // May fire at once, when the end already arrived.
  pooled.unwatch = pooled.session.watchIdle?.(() => gone(state, pooled))
  const wake = state.wakeReaper
  state.wakeReaper = undefined
  wake?.()
}

export const acquire = (state: State, waiter: Waiter): Effect.Effect<Grant> =>
  Effect.suspend(() => {
    if (state.closed) return Effect.interrupt
    const pooled = state.idle.pop()
    if (pooled !== undefined) {
      return Effect.succeed({ _tag: "Connection", pooled: leaveIdle(pooled), fromSend: false })
    }
    if (state.places < state.maxConnections) {
      state.places++
      return Effect.succeed(openGrant)
    }
    return Effect.onInterrupt(
      Effect.callback<Grant>((resume) => {
        waiter.resume = resume
        state.waiting.push(waiter)
      }),
      () => Effect.suspend(() => unclaimed(state, waiter))
    )
  })

/**
 * A waiter interrupted in the line is skipped when its turn comes; one
 * interrupted just as it was handed something gives it back: a place to
 * open a connection in, or a connection that may carry its commands with
 * nobody left to read the replies, which is retired.
 */
const unclaimed = (state: State, waiter: Waiter): Effect.Effect<void> => {
  waiter.cancelled = true
  waiter.resume = undefined
  const grant = waiter.granted
  if (grant === undefined || waiter.claimed) return Effect.void
  waiter.claimed = true
  freePlace(state)
  return grant._tag === "Open" ? Effect.void : retire(state, grant.pooled)
}

/** Closes connections idle longer than `idleTimeToLive`, on Effect's Clock. */
export const reaper = (state: State): Effect.Effect<never> =>
  Effect.forever(Effect.suspend(() => {
    const oldest = state.idle[0]
    if (oldest === undefined) {
      return Effect.callback<void>((resume) => {
        state.wakeReaper = () => resume(Effect.void)
      })
    }
    const now = state.clock.currentTimeMillisUnsafe()
    const expiresAt = oldest.lastUsed + state.idleTimeToLive
    if (now < expiresAt) return Effect.sleep(Duration.millis(expiresAt - now))
    leaveIdle(oldest)
    state.idle.shift()
    state.places--
    return Effect.uninterruptible(Scope.close(oldest.scope, Exit.void))
  }))

/** On shutdown, sends still waiting are interrupted and idle connections say goodbye. */
export const shutdown = (state: State): Effect.Effect<void> =>
  Effect.suspend(() => {
    state.closed = true
    for (const waiter of state.waiting.drain()) {
      const resume = waiter.resume
      waiter.resume = undefined
      resume?.(Effect.interrupt)
    }
    const closing = state.idle.splice(0).map(leaveIdle)
    state.places -= closing.length
    return Effect.forEach(closing, (pooled) => Scope.close(pooled.scope, Exit.void), {
      concurrency: "unbounded",
      discard: true
    })
  })
