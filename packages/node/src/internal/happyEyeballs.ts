/**
 * Happy Eyeballs (RFC 8305): the order addresses are tried in, and the
 * staggered race of one connection attempt per address.
 */
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as NodeSocket from "../NodeSocket.js"

type ResolvedAddress = NodeSocket.ResolvedAddress

/**
 * RFC 8305's recommended "Connection Attempt Delay".
 *
 * @internal
 */
export const defaultHappyEyeballsDelay: Duration.Duration = Duration.millis(250)

/** Only the addresses of `family`, when one is pinned. */
export const ofFamily = (
  addresses: ReadonlyArray<ResolvedAddress>,
  family: 4 | 6 | undefined
): ReadonlyArray<ResolvedAddress> =>
  family === undefined ? addresses : Arr.filter(addresses, (address) => address.family === family)

/**
 * The order Happy Eyeballs tries addresses in: RFC 8305 section 4 with a
 * "First Address Family Count" of 1, so IPv6 first, then the families
 * alternate, each keeping the resolver's order; what is left of the longer
 * family comes last. With `family`, only that family, in the resolver's order.
 *
 * @internal
 */
export const orderAddresses = (
  addresses: ReadonlyArray<ResolvedAddress>,
  family?: 4 | 6 | undefined
): Array<ResolvedAddress> => {
  const candidates = ofFamily(addresses, family)
  const v6 = Arr.filter(candidates, (address) => address.family === 6)
  const v4 = Arr.filter(candidates, (address) => address.family !== 6)
  const ordered: Array<ResolvedAddress> = []
  for (let i = 0; i < v6.length || i < v4.length; i++) {
    const six = v6[i]
    const four = v4[i]
    if (six !== undefined) ordered.push(six)
    if (four !== undefined) ordered.push(four)
  }
  return ordered
}

/** Joins the other racer, unless this one won or died. */
const settle = <A, E>(exit: Exit.Exit<A, E>, other: Fiber.Fiber<A, E>): Effect.Effect<A, E> => {
  if (Exit.isSuccess(exit)) {
    return Effect.as(Fiber.interrupt(other), exit.value)
  }
  // A defect ends the race, as `Effect.firstSuccessOf` would let it.
  return Cause.hasDies(exit.cause) ? Effect.andThen(Fiber.interrupt(other), exit) : Fiber.join(other)
}

/**
 * Runs `self` and `that` in fibers of their own; `settle` decides the race
 * from the first exit and the other fiber, which may still be running.
 * Interrupting the race interrupts (and awaits) both. Effect 4 has no
 * `raceWith`, and its `raceAll` would merge the failures and let a defect
 * wait for the other attempts, where `settle` wants the last failure and a
 * defect to end the race.
 */
const raceWith = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  that: Effect.Effect<A, E, R>,
  settle: (exit: Exit.Exit<A, E>, other: Fiber.Fiber<A, E>) => Effect.Effect<A, E>
): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const left = yield* Effect.forkChild(self)
      const right = yield* Effect.forkChild(that)
      const [exit, other] = yield* restore(
        Effect.raceFirst(
          Effect.map(Fiber.await(left), (exit) => [exit, right] as const),
          Effect.map(Fiber.await(right), (exit) => [exit, left] as const)
        )
      ).pipe(Effect.onInterrupt(() => Fiber.interruptAll([left, right])))
      return yield* restore(settle(exit, other)).pipe(Effect.onInterrupt(() => Fiber.interrupt(other)))
    })
  )

/**
 * Runs `attempts` staggered, as RFC 8305 section 5 runs connection attempts:
 * each runs alone for `delay` before the next starts beside it, and a failure
 * starts the next at once. The first success wins and the attempts still
 * running are interrupted (and awaited); when every attempt fails, the error is
 * the one that came last. A `delay` of `Duration.infinity` runs them one at a
 * time, in order.
 *
 * @internal
 */
export const staggeredRace = <A, E, R>(
  attempts: Arr.NonEmptyReadonlyArray<Effect.Effect<A, E, R>>,
  delay: Duration.Duration
): Effect.Effect<A, E, R> => {
  const [first, ...rest] = attempts
  if (!Arr.isReadonlyArrayNonEmpty(rest)) {
    return first
  }
  return Effect.flatMap(Deferred.make<void>(), (failed) => {
    const head = Effect.tapCause(first, () => Deferred.succeed(failed, undefined))
    const headFailed = Deferred.await(failed)
    const turn = Duration.isFinite(delay) ? Effect.race(Effect.sleep(delay), headFailed) : headFailed
    return raceWith(head, Effect.andThen(turn, staggeredRace(rest, delay)), settle)
  })
}
