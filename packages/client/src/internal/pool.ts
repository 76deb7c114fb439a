import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type { SmtpError } from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"

/**
 * Connection pooling. Each connection is served by one worker fiber that
 * takes messages from a shared queue; when more messages wait, the next one's
 * MAIL/RCPT/DATA ride behind the current body's end (RFC 2920 §3.1), so a busy
 * connection needs one round trip per message.
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

interface Job<R> {
  readonly mail: SmtpProtocol.Envelope<unknown>
  readonly deferred: Deferred.Deferred<R, unknown>
  readonly parentSpan: Option.Option<Tracer.AnySpan>
  fiber: Fiber.RuntimeFiber<R, unknown> | undefined
  cancelled: boolean
}

interface Connection {
  readonly session: SmtpProtocol.Session
  readonly scope: Scope.CloseableScope
  messages: number
  lastUsed: number
}

/** @internal */
export const make = <R>(
  options: PoolOptions,
  openSession: Effect.Effect<SmtpProtocol.Session, SmtpError, Scope.Scope>,
  transaction: (
    session: SmtpProtocol.Session,
    mail: SmtpProtocol.Envelope<unknown>,
    next: SmtpProtocol.Envelope<unknown> | undefined
  ) => Effect.Effect<R, unknown>
) =>
  Effect.gen(function*() {
    const maxConnections = Math.max(1, options.maxConnections ?? 5)
    const maxMessages = Math.max(1, options.maxMessagesPerConnection ?? 100)
    const idleTimeToLive = Duration.decode(options.idleTimeToLive ?? Duration.seconds(30))
    const checkIdleAfter = Duration.toMillis(options.checkIdleAfter ?? Duration.seconds(5))
    const queue = yield* Queue.unbounded<Job<R>>()
    const poolScope = yield* Effect.scope
    let workers = 0

    /** Waits for the next live job; `None` when the connection has idled long enough. */
    const nextJob: Effect.Effect<Option.Option<Job<R>>> = Effect.flatMap(
      Effect.timeoutOption(Queue.take(queue), idleTimeToLive),
      (job) => Option.isSome(job) && job.value.cancelled ? nextJob : Effect.succeed(job)
    )

    /** A job already waiting, to pipeline behind the current one. */
    const waitingJob: Effect.Effect<Job<R> | undefined> = Effect.flatMap(Queue.poll(queue), (job) =>
      Option.isNone(job) ? Effect.succeed(undefined) : job.value.cancelled ? waitingJob : Effect.succeed(job.value))

    const worker = Effect.gen(function*() {
      let current: Connection | undefined = undefined
      const retire = Effect.suspend(() => {
        const closing = current
        current = undefined
        return closing === undefined ? Effect.void : Scope.close(closing.scope, Exit.void)
      })
      const open = Effect.gen(function*() {
        const scope = yield* Scope.make()
        const session = yield* Effect.onError(Scope.extend(openSession, scope), (cause) =>
          Scope.close(scope, Exit.failCause(cause)))
        const connection: Connection = { session, scope, messages: 0, lastUsed: yield* Clock.currentTimeMillis }
        return connection
      })
      /** Whether an idle connection still answers; a dead one is retired. */
      const checked = (connection: Connection) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          if (now - connection.lastUsed < checkIdleAfter) {
            return true
          }
          const alive = yield* Effect.isSuccess(connection.session.noop)
          if (!alive) {
            yield* retire
          }
          return alive
        })

      yield* Effect.gen(function*() {
        let carried: Job<R> | undefined = undefined
        while (true) {
          let job: Job<R> | undefined = carried
          // A carried job's commands may already be on the wire behind the last body.
          const pipelined = carried !== undefined
          carried = undefined
          if (job === undefined) {
            const taken = yield* nextJob
            if (Option.isNone(taken)) {
              return
            }
            job = taken.value
          }
          if (job.cancelled) {
            if (pipelined) {
              yield* retire
            }
            continue
          }
          if (current !== undefined && !(yield* checked(current))) {
            current = undefined
          }
          if (current === undefined) {
            const opened = yield* Effect.either(open)
            if (opened._tag === "Left") {
              yield* Deferred.fail(job.deferred, opened.left)
              continue
            }
            current = opened.right
          }
          const connection: Connection = current
          const next = connection.messages + 1 < maxMessages ? yield* waitingJob : undefined
          // The caller may have given up while the connection was opened or
          // checked: its message must not go out after its send was interrupted.
          if (job.cancelled) {
            if (pipelined) {
              yield* retire
            }
            carried = next
            continue
          }
          const run = transaction(connection.session, job.mail, next?.mail)
          const fiber = yield* Effect.fork(
            Option.match(job.parentSpan, {
              onNone: () =>
                run,
              onSome: (span) =>
                Effect.withParentSpan(run, span)
            })
          )
          job.fiber = fiber
          if (job.cancelled) {
            yield* Fiber.interrupt(fiber)
          }
          const exit = yield* Fiber.await(fiber)
          yield* Deferred.done(job.deferred, exit)
          connection.messages++
          connection.lastUsed = yield* Clock.currentTimeMillis
          const unusable = (yield* connection.session.broken) !== undefined || (yield* connection.session.interrupted)
          // A connection that failed, was interrupted mid-exchange, or has
          // carried its share is never handed out again. The same holds when
          // the message pipelined behind is gone: its commands are in flight.
          if (unusable || connection.messages >= maxMessages || next?.cancelled === true) {
            yield* retire
          }
          carried = next
        }
      }).pipe(Effect.ensuring(retire))
    })

    const spawn = Effect.suspend(() => {
      workers++
      return Effect.forkIn(
        Effect.ensuring(
          worker,
          Effect.sync(() => {
            workers--
          })
        ),
        poolScope
      )
    })

    // On shutdown, messages still queued are interrupted, not left waiting.
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Queue.takeAll(queue), (jobs) =>
        Effect.forEach(jobs, (job) =>
          Deferred.interrupt(job.deferred)))
    )

    const submit = (mail: SmtpProtocol.Envelope<unknown>): Effect.Effect<R, unknown> =>
      Effect.gen(function*() {
        const job: Job<R> = {
          mail,
          deferred: yield* Deferred.make<R, unknown>(),
          parentSpan: yield* Effect.serviceOption(Tracer.ParentSpan),
          fiber: undefined,
          cancelled: false
        }
        yield* Queue.offer(queue, job)
        // More waiting than idle workers take: open another connection.
        if ((yield* Queue.size(queue)) > 0 && workers < maxConnections) yield* spawn
        return yield* Effect.onInterrupt(Deferred.await(job.deferred), () =>
          Effect.suspend(() => {
            job.cancelled = true
            return job.fiber === undefined ? Effect.void : Fiber.interrupt(job.fiber)
          }))
      })

    return { submit }
  })
