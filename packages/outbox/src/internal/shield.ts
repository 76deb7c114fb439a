import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"

/**
 * The part of an attempt that an interruption does not cut at once: from
 * its durable record to its outcome. The outbox's workflows are
 * interrupted not only when a process dies, but whenever their shard moves
 * to another runner (one joins or leaves) and when the outbox stops. Cut
 * past the record, a message is parked Unknown, even one the server then
 * accepted; waiting the few milliseconds to the server's reply and the
 * outcome's write leaves it Sent (or Failed). Only a crash, or a reply that
 * takes longer than `grace`, still leaves it Unknown.
 */

/** @internal */
export interface Shield {
  /**
   * Runs `body` in a fiber of its own. Interrupting the caller interrupts
   * it at once until `body` runs the `enter` it is given (just before the
   * durable record); from then on the interruption waits for `body` to end,
   * for at most `grace`.
   */
  readonly run: <A, E>(body: (enter: Effect.Effect<void>) => Effect.Effect<A, E>) => Effect.Effect<A, E>
  /**
   * The outbox is stopping (run before its workflows are interrupted): the
   * attempts past their record end, for at most `grace`; an attempt that
   * reaches `enter` from now on waits there for its interruption, its end
   * not sent (it is sent again when the outbox next runs). After `stop`
   * nothing waits any more: what the attempts need is about to stop.
   */
  readonly stop: Effect.Effect<void>
}

/** @internal */
export const make = (grace: Duration.Input): Shield => {
  /** The attempts past their record, each done when its body has ended. */
  const inside = new Set<Deferred.Deferred<void>>()
  let stopping = false
  const stopped = Deferred.makeUnsafe<void>()

  const stop = Effect.suspend(() => {
    stopping = true
    return Effect.timeoutOption(Effect.forEach([...inside], Deferred.await, { discard: true }), grace)
  }).pipe(Effect.andThen(Deferred.succeed(stopped, undefined)), Effect.asVoid)

  const run: Shield["run"] = (body) =>
    Effect.suspend(() => {
      let cut = false
      let ended: Deferred.Deferred<void> | undefined
      const enter = Effect.suspend(() => {
        if (cut) return Effect.interrupt
        // An interruption from within would end the attempt's activity as
        // if it had run: it waits for the interruption from outside.
        if (stopping) return Effect.never
        ended = Deferred.makeUnsafe<void>()
        inside.add(ended)
        return Effect.void
      })
      const leave = Effect.sync(() => {
        if (ended === undefined) return
        inside.delete(ended)
        Deferred.doneUnsafe(ended, Exit.void)
      })
      // Started at once, on this fiber's turn: no hop through the scheduler per attempt.
      return Effect.flatMap(
        Effect.forkDetach(Effect.ensuring(body(enter), leave), { startImmediately: true }),
        (forked) =>
          Effect.onInterrupt(Fiber.join(forked), () => {
            if (ended === undefined) {
              cut = true
              return Fiber.interrupt(forked)
            }
            return Effect.raceFirst(Fiber.await(forked), Deferred.await(stopped)).pipe(
              Effect.timeoutOption(grace),
              // Past the grace (or the stop's), the attempt is cut after all.
              Effect.andThen(Fiber.interrupt(forked))
            )
          })
      )
    })

  return { run, stop }
}
