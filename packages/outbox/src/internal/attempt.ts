import type { SmtpClient } from "@effect-smtp/client"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import { AttemptCutError } from "../OutboxError.js"
import * as OutboxMetrics from "../OutboxMetrics.js"
import * as codec from "./codec.js"
import { mailOf } from "./mail.js"
import type { Finish, MessageRow } from "./rows.js"
import type { Shield } from "./shield.js"
import * as Store from "./store.js"
import type { Turn } from "./turn.js"

/**
 * One attempt of one message, where the guarantee is kept: the durable
 * record written just before the end of the message, and what an attempt
 * that finds it (a crash after it) does. Also how a message ends, once.
 */

/**
 * What one attempt tells the workflow: the message ended, or is to be
 * retried (the error as stored, and when it happened).
 *
 * @internal
 */
export const AttemptOutcome = Schema.Union([
  Schema.TaggedStruct("Done", {}),
  Schema.TaggedStruct("Retry", { error: Schema.String, at: Schema.Number })
])
/** @internal */
export type AttemptOutcome = typeof AttemptOutcome.Type
const done: AttemptOutcome = { _tag: "Done" }

/** @internal */
export interface Attempts {
  /**
   * One attempt of one message. `step` names it in the durable record
   * written just before the end of the message: found there when the
   * attempt runs again after a crash, it means the server may hold the
   * message, which is then parked as Unknown, never sent again.
   */
  readonly run: (id: string, generation: number, step: string) => Effect.Effect<AttemptOutcome>
  /**
   * The same for a batch member: its row read, and its attempt counted, by
   * the batch (`Store.batchOf`, `Store.beginBatch`) for all its members at
   * once.
   */
  readonly runMember: (row: MessageRow, step: string) => Effect.Effect<AttemptOutcome>
  /** Ends a message once; the attempts histogram counts it when this call is the one that did. */
  readonly finish: (row: MessageRow, state: Finish["state"], outcome: string) => Effect.Effect<void>
}

/**
 * The attempt's span. Data-first, so `captureStackTrace: false` holds: the
 * data-last form captures a stack trace whatever its options say (Effect
 * 4.1.5), an `Error` per attempt, about 1% of the outbox's time.
 */
const withAttemptSpan = <A, E, R>(effect: Effect.Effect<A, E, R>, row: MessageRow, attempt: number) =>
  Effect.withSpan(effect, "smtp.outbox.attempt", {
    kind: "internal",
    captureStackTrace: false,
    attributes: { "smtp.outbox.message.id": row.id, "smtp.outbox.attempt": attempt },
    // The span of the enqueue that stored the message, in its own trace.
    links: row.traceId === undefined || row.spanId === undefined ? [] : [{
      span: Tracer.externalSpan({ traceId: row.traceId, spanId: row.spanId }),
      attributes: { "smtp.outbox.link": "enqueue" }
    }]
  })

/** The attempts histogram for each end state, made once rather than per message. */
const attemptsBy: Record<Finish["state"], Metric.Metric<number, unknown>> = {
  Sent: Metric.withAttributes(OutboxMetrics.attempts, { state: "Sent" }),
  Failed: Metric.withAttributes(OutboxMetrics.attempts, { state: "Failed" }),
  Unknown: Metric.withAttributes(OutboxMetrics.attempts, { state: "Unknown" })
}

/** @internal */
export const make = (client: SmtpClient.Service, store: Store.Store, turn: Turn, shield: Shield): Attempts => {
  const finish: Attempts["finish"] = (row, state, outcome) =>
    Effect.flatMap(
      Clock.currentTimeMillis,
      (now) =>
        Store.persistently(store.finish({ id: row.id, generation: row.generation, state, outcome, finishedAt: now }))
          .pipe(
            Effect.tap((attempts) => attempts === undefined ? Effect.void : Metric.update(attemptsBy[state], attempts)),
            Effect.asVoid
          )
    )

  /**
   * The send and its outcome, from the attempt's start written on. Run
   * shielded (shield.ts): `enter` is run just before the durable record,
   * from when an interruption waits for the outcome. Returns the
   * record's error when the record could not be written (the end was not
   * sent), for the attempt to go again outside the shield.
   */
  const sendAndEnd = (row: MessageRow, step: string, enter: Effect.Effect<void>) =>
    Effect.gen(function*() {
      const { generation, id } = row
      const number = row.attempts + 1
      const exit = yield* Effect.exit(
        withAttemptSpan(
          client.send(mailOf(row), { beforeEndOfData: Effect.andThen(enter, store.recordEnd(id, generation, step)) }),
          row,
          number
        )
      )
      const ended = { ...row, attempts: number }
      if (Exit.isSuccess(exit)) {
        yield* finish(ended, "Sent", codec.encodeResult(exit.value))
        return done
      }
      const typed = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
      if (typed === undefined) return yield* Effect.failCause(exit.cause).pipe(Effect.orDie)
      if (typed._tag === "OutboxStoreError") return typed
      const at = yield* Clock.currentTimeMillis
      if (typed._tag === "DeliveryUnknownError") {
        yield* finish(ended, "Unknown", codec.encodeError(typed))
        return done
      }
      yield* turn.failed(typed, at)
      if (typed.retryable) return { _tag: "Retry", error: codec.encodeError(typed), at } as const
      yield* finish(ended, "Failed", codec.encodeFailure("Permanent", typed))
      return done
    })

  /** One attempt of `row` (as read just before); `counted` when its start is already written. */
  const attempt = (row: MessageRow, step: string, counted: boolean): Effect.Effect<AttemptOutcome> =>
    Effect.gen(function*() {
      const { generation, id } = row
      if (row.state !== "Pending") return done
      if (row.endStep === step) {
        const cut = new AttemptCutError({ attempt: row.attempts, messageId: row.messageId, recipients: row.to })
        yield* finish(row, "Unknown", codec.encodeError(cut))
        return done
      }
      yield* turn.wait
      if (!counted) yield* Store.persistently(store.beginAttempt(id, generation))
      const outcome = yield* shield.run((enter) => sendAndEnd(row, step, enter))
      if (outcome._tag !== "OutboxStoreError") return outcome
      // The durable record could not be written, so the end was not sent:
      // this step runs again once the database answers. Had the record been
      // written after all, the step now finds it and parks the message as
      // Unknown: never a duplicate.
      yield* Effect.logWarning(outcome.message)
      return yield* Effect.andThen(Effect.sleep(Duration.seconds(1)), run(id, generation, step))
    })

  const run: Attempts["run"] = (id, generation, step) =>
    Effect.flatMap(
      Store.persistently(store.get(id)),
      (row) => row === undefined || row.generation !== generation ? Effect.succeed(done) : attempt(row, step, false)
    )

  const runMember: Attempts["runMember"] = (row, step) => attempt(row, step, true)

  return { run, runMember, finish }
}
