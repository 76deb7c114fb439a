import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { SmtpError } from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"

/**
 * Connection pooling. A send borrows a connection and runs its transaction
 * on its own fiber; when another send is waiting, its MAIL/RCPT/DATA ride
 * behind the current body's end (RFC 2920 §3.1) and the connection passes
 * straight to it, so a busy connection needs one round trip per message.
 *
 * @since 0.1.0
 * @category models
 */
export interface PoolOptions {
  /** Connections open at most at once (default 5). */
  readonly maxConnections?: number | undefined
  /** Messages on one connection before it is replaced (default 100). */
  readonly maxMessagesPerConnection?: number | undefined
  /** How long an unused connection stays open (default 30 seconds). */
  readonly idleTimeToLive?: Duration.DurationInput | undefined
  /** A connection idle at least this long is checked with NOOP before reuse (default 5 seconds). */
  readonly checkIdleAfter?: Duration.DurationInput | undefined
}

interface Connection {
  readonly session: SmtpProtocol.Session
  readonly scope: Scope.CloseableScope
  messages: number
  lastUsed: number
}

/** What a waiting send is handed: a connection, or one of the pool's places to open one in. */
type Grant =
  | {
    readonly _tag: "Connection"
    readonly connection: Connection
    /** Straight from the previous send: its commands may already be on the wire behind that body. */
    readonly handedOver: boolean
  }
  | { readonly _tag: "Open" }

const openGrant: Grant = { _tag: "Open" }

interface Waiter {
  readonly mail: SmtpProtocol.Envelope<unknown>
  resume: ((grant: Effect.Effect<Grant>) => void) | undefined
  /** Set when handed something; `consumed` once the send took it. */
  granted: Grant | undefined
  consumed: boolean
  cancelled: boolean
}

/** What a running send holds, for its release. */
interface Held {
  connection: Connection | undefined
  /** The waiter whose commands may ride behind this message. */
  next: Waiter | undefined
  /** Handed straight over by the previous send, whose body may carry this one's commands. */
  readonly handedOver: boolean
  /** The transaction began: from here the session knows whether it is in step. */
  started: boolean
  /** The connection was passed on (or retired) already. */
  released: boolean
}

/** First in, first out, without `Array.shift`'s copying on long lines. */
class Line<A> {
  private items: Array<A | undefined> = []
  private head = 0
  push(item: A): void {
    this.items.push(item)
  }
  shift(): A | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }
  drain(): Array<A> {
    const rest = this.items.slice(this.head) as Array<A>
    this.items = []
    this.head = 0
    return rest
  }
}

/** @internal */
export const make = <R>(
  options: PoolOptions,
  openSession: Effect.Effect<SmtpProtocol.Session, SmtpError, Scope.Scope>,
  /**
   * Runs one message. `sent` is to be run as soon as the session is done
   * with it (before telemetry and results): the connection then passes on
   * while this send finishes its bookkeeping.
   */
  transaction: (
    session: SmtpProtocol.Session,
    mail: SmtpProtocol.Envelope<unknown>,
    next: SmtpProtocol.Envelope<unknown> | undefined,
    sent: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
  ) => Effect.Effect<R, unknown>
) =>
  Effect.gen(function*() {
    const maxConnections = Math.max(1, options.maxConnections ?? 5)
    const maxMessages = Math.max(1, options.maxMessagesPerConnection ?? 100)
    const idleTimeToLive = Duration.toMillis(options.idleTimeToLive ?? Duration.seconds(30))
    const checkIdleAfter = Duration.toMillis(options.checkIdleAfter ?? Duration.seconds(5))
    const clock = yield* Effect.clock
    const poolScope = yield* Effect.scope

    /** Free connections, the most recently used last: busy ones stay warm, the rest idle out. */
    const idle: Array<Connection> = []
    const line = new Line<Waiter>()
    /** Connections open or being opened. */
    let places = 0
    let closed = false
    let wakeReaper: (() => void) | undefined = undefined

    const give = (waiter: Waiter, grant: Grant): void => {
      waiter.granted = grant
      const resume = waiter.resume
      waiter.resume = undefined
      resume?.(Effect.succeed(grant))
    }

    const nextWaiter = (): Waiter | undefined => {
      for (let waiter = line.shift(); waiter !== undefined; waiter = line.shift()) {
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

    /** Closes a connection (QUIT when it is still in step) without holding up the send that used it. */
    const retire = (connection: Connection): Effect.Effect<void> =>
      Effect.asVoid(Effect.forkIn(Effect.uninterruptible(Scope.close(connection.scope, Exit.void)), poolScope))

    /** A connection in step and free: to the next waiter, or to the idle list. */
    const putBack = (connection: Connection): void => {
      const waiter = closed ? undefined : nextWaiter()
      if (waiter !== undefined) {
        give(waiter, { _tag: "Connection", connection, handedOver: true })
        return
      }
      idle.push(connection)
      const wake = wakeReaper
      wakeReaper = undefined
      wake?.()
    }

    const acquire = (waiter: Waiter): Effect.Effect<Grant> =>
      Effect.suspend(() => {
        if (closed) return Effect.interrupt
        const connection = idle.pop()
        if (connection !== undefined) return Effect.succeed({ _tag: "Connection", connection, handedOver: false })
        if (places < maxConnections) {
          places++
          return Effect.succeed(openGrant)
        }
        return Effect.onInterrupt(
          Effect.async<Grant>((resume) => {
            waiter.resume = resume
            line.push(waiter)
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
      if (grant === undefined || waiter.consumed) return Effect.void
      waiter.consumed = true
      freePlace()
      return grant._tag === "Open" ? Effect.void : retire(grant.connection)
    }

    const open = Effect.gen(function*() {
      const scope = yield* Scope.make()
      const session = yield* Effect.onError(
        Scope.extend(openSession, scope),
        (cause) => Scope.close(scope, Exit.failCause(cause))
      )
      const connection: Connection = { session, scope, messages: 0, lastUsed: clock.unsafeCurrentTimeMillis() }
      return connection
    })

    /** Whether a connection that sat idle still answers. */
    const stillAlive = (connection: Connection): Effect.Effect<boolean> =>
      clock.unsafeCurrentTimeMillis() - connection.lastUsed < checkIdleAfter
        ? Effect.succeed(true)
        : Effect.isSuccess(connection.session.noop)

    /** The transaction on a connection, and the next waiter's commands behind it. */
    const carry = (connection: Connection, held: Held, mail: SmtpProtocol.Envelope<unknown>) => {
      const next = connection.messages + 1 < maxMessages ? nextWaiter() : undefined
      held.next = next
      held.started = true
      return transaction(connection.session, mail, next?.mail, (exit) => release(held, exit))
    }

    const run = (grant: Grant, held: Held, mail: SmtpProtocol.Envelope<unknown>): Effect.Effect<R, unknown> => {
      // Straight from the previous send: in use a moment ago, no check needed.
      if (grant._tag === "Connection" && held.handedOver) return carry(grant.connection, held, mail)
      return Effect.gen(function*() {
        let connection = grant._tag === "Connection" ? grant.connection : undefined
        if (connection !== undefined && !(yield* stillAlive(connection))) {
          // Dead while idle: replaced in the same place.
          held.connection = undefined
          yield* Scope.close(connection.scope, Exit.void)
          connection = undefined
        }
        if (connection === undefined) {
          connection = yield* open
          held.connection = connection
        }
        return yield* carry(connection, held, mail)
      })
    }

    /** After a send: the connection passes on (to the send whose commands ride behind, if any) or retires. */
    const release = (held: Held, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (held.released) return Effect.void
        held.released = true
        const { connection, next } = held
        if (connection === undefined) {
          // Never opened (failed or interrupted): the place goes on.
          freePlace()
          return Effect.void
        }
        return Effect.flatMap(
          connection.session.broken,
          (broken) =>
            Effect.flatMap(connection.session.interrupted, (interrupted) => {
              connection.messages++
              connection.lastUsed = clock.unsafeCurrentTimeMillis()
              // A connection that failed, was interrupted mid-exchange, or has
              // carried its share is never handed out again. Nor is one whose
              // next send is gone, or never began, while its commands may be
              // in flight.
              const unusable = broken !== undefined || interrupted || closed ||
                connection.messages >= maxMessages || next?.cancelled === true ||
                (held.handedOver && !held.started && Exit.isInterrupted(exit))
              if (!unusable) {
                if (next === undefined) {
                  putBack(connection)
                  return Effect.void
                }
                give(next, { _tag: "Connection", connection, handedOver: true })
                // The next send's body goes out first; this one's bookkeeping
                // then overlaps the server's work on it.
                return Effect.yieldNow()
              }
              if (next === undefined || next.cancelled || closed) {
                if (next !== undefined && !next.cancelled) {
                  next.resume?.(Effect.interrupt)
                }
                freePlace()
              } else {
                // The send behind opens a fresh connection in this one's place.
                give(next, openGrant)
              }
              return retire(connection)
            })
        )
      })

    const submit = (mail: SmtpProtocol.Envelope<unknown>): Effect.Effect<R, unknown> =>
      Effect.uninterruptibleMask((restore) => {
        const waiter: Waiter = { mail, resume: undefined, granted: undefined, consumed: false, cancelled: false }
        return Effect.flatMap(restore(acquire(waiter)), (grant) => {
          waiter.consumed = true
          const held: Held = {
            connection: grant._tag === "Connection" ? grant.connection : undefined,
            next: undefined,
            handedOver: grant._tag === "Connection" ? grant.handedOver : false,
            started: false,
            released: false
          }
          return Effect.onExit(restore(run(grant, held, mail)), (exit) => release(held, exit))
        })
      })

    /** Closes connections idle longer than `idleTimeToLive`, on Effect's Clock. */
    const reaper: Effect.Effect<never> = Effect.forever(Effect.suspend(() => {
      const oldest = idle[0]
      if (oldest === undefined) {
        return Effect.async<void>((resume) => {
          wakeReaper = () => resume(Effect.void)
        })
      }
      const now = clock.unsafeCurrentTimeMillis()
      const expiresAt = oldest.lastUsed + idleTimeToLive
      if (now < expiresAt) return Effect.sleep(Duration.millis(expiresAt - now))
      idle.shift()
      places--
      return Effect.uninterruptible(Scope.close(oldest.scope, Exit.void))
    }))
    yield* Effect.forkScoped(reaper)

    // On shutdown, sends still waiting are interrupted and idle connections say goodbye.
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        for (const waiter of line.drain()) {
          const resume = waiter.resume
          waiter.resume = undefined
          resume?.(Effect.interrupt)
        }
        const closing = idle.splice(0)
        places -= closing.length
        return Effect.forEach(closing, (connection) => Scope.close(connection.scope, Exit.void), {
          concurrency: "unbounded",
          discard: true
        })
      })
    )

    return { submit }
  })
