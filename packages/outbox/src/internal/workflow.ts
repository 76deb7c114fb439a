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
import { batchStep, type MessageRow } from "./rows.js"
import { persistently, type Store } from "./store.js"

/**
 * The durable side of a message: a workflow per batch of messages stored
 * together and due at once, which runs their first attempt as one activity,
 * and one per message and generation that waits for `sendAt`, runs attempts
 * as activities and steps the retry schedule on a durable clock; how a
 * stored message's workflow is started, and the start-up sweep of those a
 * crash kept from starting.
 */

/** Starting a workflow whose runner just died: until its shards move, for up to a minute or so. */
const startRetry = Schedule.min([Schedule.exponential("200 millis"), Schedule.spaced("5 seconds")]).pipe(
  Schedule.upTo({ duration: "70 seconds" })
)

/** @internal */
export interface Workflows {
  /**
   * Starts what sends a stored message: the workflow of its batch, or its
   * own (a no-op when it runs already). On a cluster the start travels to
   * the runner that owns the workflow's shard; when that runner has just
   * died the call fails until its shards move (seconds), so it is tried
   * again for a while. The message is stored whatever happens: one that
   * could not be started is started by the sweep when a runner next starts.
   */
  readonly start: (stored: Startable) => Effect.Effect<void>
}

/** What a start needs to know of a stored message. */
export interface Startable {
  readonly id: string
  readonly generation: number
  readonly batch: string | undefined
}

/**
 * A batch member's outcome, as the batch's first attempt returns it; `Died`
 * when its attempt died (a defect): it goes on in a workflow of its own,
 * as if the batch had crashed there, and does not take the others with it.
 */
const Died = Schema.TaggedStruct("Died", { defect: Schema.String })
const BatchOutcome = Schema.Array(
  Schema.Struct({ id: Schema.String, outcome: Schema.Union([AttemptOutcome, Died]) })
)

/** Registers the outbox's workflows on the engine in context, then sweeps; returns how to start one. @internal */
export const make = (options: {
  readonly prefix: string
  readonly retry: Schedule.Schedule<unknown, SmtpError.SmtpError>
  readonly store: Store
  readonly attempts: Attempts
}) =>
  Effect.gen(function*() {
    const { attempts, prefix, retry, store } = options
    const engine = yield* WorkflowEngine
    /**
     * One message (one generation): its attempts and the retry schedule
     * between them. `retried` is set when the message's first attempt ran in
     * a batch and is to be retried: the schedule steps past it first.
     */
    const workflow = Workflow.make(`SmtpOutbox/${prefix}`, {
      payload: {
        id: Schema.String,
        generation: Schema.Number,
        retried: Schema.optionalKey(Schema.Struct({ error: Schema.String, at: Schema.Number }))
      },
      idempotencyKey: ({ generation, id }) => `${id}/${generation}`
    })
    /**
     * Many messages due at once (stored together, due now or at the same
     * later time): one workflow (a durable sleep until then) and one
     * activity run the first attempt of each, concurrently, so the engine
     * persists two steps for the lot instead of two per message. What
     * keeps the guarantee is per message and in the outbox's own table (the
     * durable record, the state), so a replay after a crash does for each
     * member what the message's own workflow would. Members to be retried
     * go on in workflows of their own.
     */
    const batchWorkflow = Workflow.make(`SmtpOutbox/${prefix}/batch`, {
      payload: { batch: Schema.String },
      idempotencyKey: ({ batch }) => batch
    })

    const attemptActivity = (id: string, generation: number, k: number) =>
      Activity.make({
        name: `attempt-${k}`,
        success: AttemptOutcome,
        execute: attempts.run(id, generation, `${generation}/${k}`)
      })

    /** After attempt `k` asked for a retry: false when the message has ended (retries exhausted). */
    const retryAfter = (
      row: MessageRow,
      stepper: retrySchedule.Stepper<SmtpError.SmtpError>,
      k: number,
      outcome: { readonly error: string; readonly at: number }
    ) =>
      Effect.gen(function*() {
        const error = codec.decodeErrorText(outcome.error) as SmtpError.SmtpError
        const nextAt = yield* stepper.next(outcome.at, error)
        if (nextAt === undefined) {
          const last = (yield* persistently(store.get(row.id))) ?? row
          yield* attempts.finish(last, "Failed", codec.encodeFailure("RetriesExhausted", error))
          return false
        }
        yield* persistently(store.scheduleNext(row.id, row.generation, nextAt))
        const wait = nextAt - (yield* Clock.currentTimeMillis)
        if (wait > 0) yield* DurableClock.sleep({ name: `retry-${k}`, duration: Duration.millis(wait) })
        return true
      })

    yield* engine.register(workflow, ({ generation, id, retried }) =>
      Effect.gen(function*() {
        const row = yield* persistently(store.get(id))
        if (row === undefined || row.generation !== generation || row.state !== "Pending") return
        const stepper = yield* retrySchedule.make(retry)
        // A batch ran attempt 1 (its step "<generation>/1" may be in the durable record).
        const first = retried === undefined ? 1 : 2
        if (retried !== undefined) {
          if (!(yield* retryAfter(row, stepper, 1, retried))) return
        } else {
          const now = yield* Clock.currentTimeMillis
          if (row.sendAt > now) {
            yield* DurableClock.sleep({ name: "send-at", duration: Duration.millis(row.sendAt - now) })
          }
        }
        for (let k = first;; k++) {
          const outcome = yield* attemptActivity(id, generation, k)
          if (outcome._tag === "Done") return
          if (!(yield* retryAfter(row, stepper, k, outcome))) return
        }
      }))

    yield* engine.register(batchWorkflow, ({ batch }) =>
      Effect.gen(function*() {
        // Every member has the same sendAt, or one already past.
        const sendAt = (yield* persistently(store.batchDueAt(batch))) ?? 0
        const now = yield* Clock.currentTimeMillis
        if (sendAt > now) {
          yield* DurableClock.sleep({ name: "send-at", duration: Duration.millis(sendAt - now) })
        }
        const outcomes = yield* Activity.make({
          name: "attempt-1",
          success: BatchOutcome,
          // One read and one start write for the whole batch; then each member's attempt.
          execute: Effect.flatMap(
            Effect.tap(persistently(store.batchOf(batch)), () => persistently(store.beginBatch(batch))),
            (members) =>
              Effect.forEach(
                members.filter((member) => member.generation === 0),
                (member) =>
                  Effect.suspend(() => attempts.runMember(member.row(), batchStep)).pipe(
                    Effect.map((outcome): typeof BatchOutcome.Type[number] => ({ id: member.id, outcome })),
                    Effect.catchCause((cause) =>
                      Cause.hasInterruptsOnly(cause)
                        ? Effect.failCause(cause)
                        : Effect.as(
                          Effect.logError(`the batch attempt of message ${member.id} died`, cause),
                          { id: member.id, outcome: { _tag: "Died", defect: Cause.pretty(cause) } } as const
                        )
                    )
                  ),
                { concurrency: "unbounded" }
              )
          )
        })
        // Each retry in a workflow of its own, which outlives this one. One
        // that died starts over there from the step the batch was at: its
        // durable record, if written, parks it as Unknown.
        yield* Effect.forEach(outcomes, ({ id, outcome }) =>
          outcome._tag === "Retry"
            ? workflow.execute({ id, generation: 0, retried: outcome }, { discard: true, detached: true })
            : outcome._tag === "Died"
            ? workflow.execute({ id, generation: 0 }, { discard: true, detached: true })
            : Effect.void, { discard: true })
      }))

    const retrying = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>) =>
      effect.pipe(
        Effect.provideService(WorkflowEngine, engine),
        Effect.asVoid,
        Effect.sandbox,
        Effect.tapError((cause) => Effect.logWarning(`starting ${what} failed; trying again: ${Cause.pretty(cause)}`)),
        Effect.retry({ schedule: startRetry, while: (cause) => !Cause.hasInterruptsOnly(cause) }),
        Effect.catch((cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.failCause(cause)
            : Effect.logError(`${what} is stored but could not be started; a runner starts it when it starts`)
        )
      )

    const start: Workflows["start"] = ({ batch, generation, id }) =>
      batch !== undefined && generation === 0
        ? retrying(`batch ${batch}`, batchWorkflow.execute({ batch }, { discard: true }))
        : retrying(`message ${id}`, workflow.execute({ id, generation }, { discard: true }))

    // Workflows a crash may have kept from starting (stored, not yet started)
    // start now; starting one that exists is a no-op. A batch starts once.
    const pending = yield* persistently(store.pending)
    const batches = new Set<string>()
    yield* Effect.forEach(pending, (stored) => {
      if (stored.batch !== undefined && stored.generation === 0) {
        if (batches.has(stored.batch)) return Effect.void
        batches.add(stored.batch)
      }
      return start(stored)
    }, { discard: true })

    const workflows: Workflows = { start }
    return workflows
  })
