import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { RateLimitOptions } from "../SmtpClient.js"
import { DeliveryUnknownError, isSmtpError, type SmtpError, TimeoutError } from "../SmtpError.js"
import type { DeliveryProgress } from "../SmtpProtocol.js"
import { isThrottling } from "./smtpError.js"

/** @internal */
export interface SendPolicyOptions {
  readonly rateLimit?: RateLimitOptions | undefined
  readonly retry?: Schedule.Schedule<unknown, SmtpError> | undefined
  readonly deadline?: Duration.Input | undefined
}

/**
 * At most `limit` messages in each window of `interval` ms, windows starting at
 * the first message after the last one closed. A message over the limit takes
 * the next free place and waits for its window (reservations, not polling, so
 * waiting senders keep their order and no window is over-filled).
 */
const fixedWindow = (limit: number, interval: number) => {
  let windowStart = Number.NEGATIVE_INFINITY
  let used = 0
  const reserve = (now: number): number => {
    if (now >= windowStart + interval) {
      windowStart = now
      used = 0
    } else if (used >= limit) {
      windowStart += interval
      used = 0
    }
    used++
    return Math.max(0, windowStart - now)
  }
  return <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const wait = reserve(now)
      return wait === 0 ? effect : Effect.andThen(Effect.sleep(Duration.millis(wait)), effect)
    })
}

/**
 * Wraps one send attempt with the client's policy: the rate limit, the
 * client-wide pause after a "too many" reply, retries of retryable failures,
 * and the overall deadline.
 *
 * @internal
 */
export const make = (options: SendPolicyOptions): Effect.Effect<
  <A, E>(
    attempt: (progress: DeliveryProgress) => Effect.Effect<A, E>,
    messageId: string | undefined
  ) => Effect.Effect<A, E | SmtpError>,
  never,
  Scope.Scope
> =>
  Effect.sync(() => {
    const limit = options.rateLimit
    const limiter = limit?.messages !== undefined
      ? fixedWindow(limit.messages, Duration.toMillis(limit.interval ?? Duration.minutes(1)))
      : undefined
    const backoff = Duration.toMillis(limit?.backoff ?? Duration.seconds(30))
    let pausedUntil = 0

    const waitForPause = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      now < pausedUntil ? Effect.sleep(Duration.millis(pausedUntil - now)) : Effect.void)

    const pauseAfterThrottling = (error: unknown) =>
      isThrottling(error)
        ? Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            pausedUntil = Math.max(pausedUntil, now + backoff)
          }))
        : Effect.void

    return <A, E>(attempt: (progress: DeliveryProgress) => Effect.Effect<A, E>, messageId: string | undefined) => {
      // Where the latest attempt stands when the deadline strikes: past the
      // end of the message, the delivery is unknown.
      let progress: DeliveryProgress = { endWritten: false, replied: false }
      const attempted = Effect.tapError(
        Effect.suspend(() => {
          progress = { endWritten: false, replied: false }
          return limiter === undefined ? attempt(progress) : limiter(attempt(progress))
        }),
        pauseAfterThrottling
      )
      // Never paused (the usual case): no clock to read.
      const once: Effect.Effect<A, E> = Effect.suspend(() =>
        pausedUntil === 0 ? attempted : Effect.andThen(waitForPause, attempted)
      )
      const retried: Effect.Effect<A, E | SmtpError> = options.retry === undefined ? once : Effect.retry(once, {
        schedule: options.retry as Schedule.Schedule<unknown, E>,
        // Never after the end of the message (DeliveryUnknownError is not retryable).
        while: (error) =>
          isSmtpError(error) && error.retryable
      })
      if (options.deadline === undefined) return retried
      const deadline = Duration.fromInputUnsafe(options.deadline)
      return Effect.flatMap(
        Effect.timeoutOption(retried, deadline),
        (result) =>
          Option.isSome(result)
            ? Effect.succeed(result.value)
            : Effect.suspend((): Effect.Effect<never, SmtpError> => {
              const timeout = new TimeoutError({
                operation: "the send to complete (options.deadline)",
                timeout: deadline
              })
              const unknown = progress.endWritten && !progress.replied
              return Effect.fail(
                unknown ? new DeliveryUnknownError({ cause: timeout, messageId, recipients: [] }) : timeout
              )
            })
      )
    }
  })
