import type { SmtpError } from "@effect-smtp/client"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Activity from "effect/workflow/Activity"
import * as DurableClock from "effect/workflow/DurableClock"
import * as Workflow from "effect/workflow/Workflow"
import { WorkflowEngine } from "effect/workflow/WorkflowEngine"
import { AttemptOutcome, type Attempts } from "./attempt.js"
import * as codec from "./codec.js"
import * as retrySchedule from "./retry.js"
import { persistently, type Store } from "./store.js"

/**
 * The durable side of a message: one workflow per message and generation
 * that waits for `sendAt`, runs attempts as activities and steps the retry
 * schedule on a durable clock; how a stored message's workflow is started,
 * and the start-up sweep of those a crash kept from starting.
 */

/** Starting a workflow whose runner just died: until its shards move, for up to a minute or so. */
const startRetry = Schedule.min([Schedule.exponential("200 millis"), Schedule.spaced("5 seconds")]).pipe(
  Schedule.upTo({ duration: "70 seconds" })
)

/** @internal */
export interface Workflows {
  /**
   * Starts a stored message's workflow (a no-op when it runs already). On
   * a cluster the start travels to the runner that owns the message's
   * shard; when that runner has just died the call fails until its shards
   * move (seconds), so it is tried again for a while. The message is stored
   * whatever happens: one that could not be started is started by the
   * sweep when a runner next starts.
   */
  readonly start: (id: string, generation: number) => Effect.Effect<void>
}

/** Registers the outbox's workflow on the engine in context, then sweeps; returns how to start one. @internal */
export const make = (options: {
  readonly prefix: string
  readonly retry: Schedule.Schedule<unknown, SmtpError.SmtpError>
  readonly store: Store
  readonly attempts: Attempts
}) =>
  Effect.gen(function*() {
    const { attempts, prefix, retry, store } = options
    const engine = yield* WorkflowEngine
    const workflow = Workflow.make(`SmtpOutbox/${prefix}`, {
      payload: { id: Schema.String, generation: Schema.Number },
      idempotencyKey: ({ generation, id }) => `${id}/${generation}`
    })

    const attemptActivity = (id: string, generation: number, k: number) =>
      Activity.make({
        name: `attempt-${k}`,
        success: AttemptOutcome,
        execute: attempts.run(id, generation, `${generation}/${k}`)
      })

    yield* engine.register(workflow, ({ generation, id }) =>
      Effect.gen(function*() {
        const row = yield* persistently(store.get(id))
        if (row === undefined || row.generation !== generation || row.state !== "Pending") return
        const now = yield* Clock.currentTimeMillis
        if (row.sendAt > now) {
          yield* DurableClock.sleep({ name: "send-at", duration: Duration.millis(row.sendAt - now) })
        }
        const stepper = yield* retrySchedule.make(retry)
        for (let k = 1;; k++) {
          const outcome = yield* attemptActivity(id, generation, k)
          if (outcome._tag === "Done") return
          const error = codec.decodeErrorText(outcome.error) as SmtpError.SmtpError
          const nextAt = yield* stepper.next(outcome.at, error)
          if (nextAt === undefined) {
            const last = (yield* persistently(store.get(id))) ?? row
            yield* attempts.finish(last, "Failed", codec.encodeFailure("RetriesExhausted", error))
            return
          }
          yield* persistently(store.scheduleNext(id, generation, nextAt))
          const wait = nextAt - (yield* Clock.currentTimeMillis)
          if (wait > 0) yield* DurableClock.sleep({ name: `retry-${k}`, duration: Duration.millis(wait) })
        }
      }))

    const start: Workflows["start"] = (id, generation) =>
      workflow.execute({ id, generation }, { discard: true }).pipe(
        Effect.provideService(WorkflowEngine, engine),
        Effect.asVoid,
        Effect.sandbox,
        Effect.tapError((cause) =>
          Effect.logWarning(`starting message ${id} failed; trying again: ${Cause.pretty(cause)}`)
        ),
        Effect.retry({ schedule: startRetry, while: (cause) => !Cause.hasInterruptsOnly(cause) }),
        Effect.catch((cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.failCause(cause)
            : Effect.logError(`message ${id} is stored but could not be started; a runner starts it when it starts`)
        )
      )

    // Workflows a crash may have kept from starting (stored, not yet started)
    // start now; starting one that exists is a no-op.
    const pending = yield* persistently(store.pending)
    yield* Effect.forEach(pending, ({ generation, id }) => start(id, generation), { discard: true })

    const workflows: Workflows = { start }
    return workflows
  })
