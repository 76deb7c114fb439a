import { SmtpClient, type SmtpError } from "@effect-smtp/client"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as RateLimiter from "effect/persistence/RateLimiter"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as Activity from "effect/workflow/Activity"
import * as DurableClock from "effect/workflow/DurableClock"
import * as Workflow from "effect/workflow/Workflow"
import { WorkflowEngine } from "effect/workflow/WorkflowEngine"
import { AttemptCutError, MessageNotFoundError, type OutboxStoreError, ResendRefusedError } from "../OutboxError.js"
import * as OutboxMetrics from "../OutboxMetrics.js"
import type * as SmtpOutbox from "../SmtpOutbox.js"
import { Failed, Pending, Sent, SmtpOutbox as SmtpOutboxTag, Unknown } from "../SmtpOutbox.js"
import * as codec from "./codec.js"
import * as limits from "./limits.js"
import * as retrySchedule from "./retry.js"
import * as Store from "./store.js"

/** Default retries: 30 s, doubling, at most an hour apart, 10 of them (about 5 hours in all). */
const defaultRetry: Schedule.Schedule<unknown, SmtpError.SmtpError> = Schedule.max([
  Schedule.min([Schedule.exponential("30 seconds"), Schedule.spaced("1 hour")]),
  Schedule.recurs(10)
])

/**
 * The database is retried, not given up on: an outage delays sending and
 * loses nothing. Each retry is logged.
 */
/** Starting a workflow whose runner just died: until its shards move, for up to a minute or so. */
const startRetry = Schedule.min([Schedule.exponential("200 millis"), Schedule.spaced("5 seconds")]).pipe(
  Schedule.upTo({ duration: "70 seconds" })
)
const storeRetry = Schedule.min([Schedule.exponential("200 millis"), Schedule.spaced("30 seconds")])
const persistently = <A>(effect: Effect.Effect<A, OutboxStoreError>): Effect.Effect<A> =>
  effect.pipe(
    Effect.tapError((error) => Effect.logWarning(error.message)),
    Effect.retry(storeRetry),
    Effect.orDie
  )

/**
 * A reply that says the server wants fewer messages from us: every runner
 * then pauses. The same rule as the client's own per-process pause.
 */
const throttleText = /too many|rate|limit|throttl|exceeded|slow down/i
const isThrottling = (error: SmtpError.SmtpError): boolean =>
  (error._tag === "SmtpCommandError" || error._tag === "AuthenticationError") &&
  [421, 432, 450, 451, 454].includes(error.statusCode ?? 0) &&
  throttleText.test(error.serverMessage ?? "")

/** What one attempt activity tells the workflow: the message ended, or is to be retried. */
const AttemptOutcome = Schema.Union([
  Schema.TaggedStruct("Done", {}),
  Schema.TaggedStruct("Retry", { error: Schema.String, at: Schema.Number })
])
type AttemptOutcome = typeof AttemptOutcome.Type
const done: AttemptOutcome = { _tag: "Done" }

const utc = (millis: number): DateTime.Utc => DateTime.makeUnsafe(millis)

const toMillis = (time: DateTime.DateTime | Date | number): number =>
  typeof time === "number" ? time : time instanceof Date ? time.getTime() : DateTime.toEpochMillis(time)

const encoder = new TextEncoder()

/** The exact bytes every attempt will send. */
const bytesOf = <E>(content: SmtpClient.Sendable<E>["content"]): Effect.Effect<Uint8Array, E> => {
  if (typeof content === "string") return Effect.succeed(encoder.encode(content))
  // A copy: the caller may reuse its buffer once enqueue returns.
  if (content instanceof Uint8Array) return Effect.succeed(content.slice())
  return Effect.map(Stream.runCollect(content), (parts) => {
    const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
    let offset = 0
    for (const part of parts) {
      out.set(part, offset)
      offset += part.length
    }
    return out
  })
}

/** The envelope fields besides from/to/content that a send honours. */
interface Extra {
  readonly dsn?: SmtpClient.Mail["dsn"]
  readonly partialDelivery?: SmtpClient.Mail["partialDelivery"]
}

const extraOf = <E>(mail: SmtpClient.Sendable<E>): string | undefined => {
  const extra: Extra = "envelope" in mail
    ? { dsn: mail.dsn }
    : { dsn: mail.dsn, partialDelivery: mail.partialDelivery }
  return extra.dsn === undefined && extra.partialDelivery === undefined ? undefined : JSON.stringify(extra)
}

const mailOf = (row: Store.MessageRow): SmtpClient.Mail => {
  const extra: Extra = row.extra === undefined ? {} : JSON.parse(row.extra)
  return {
    from: row.from,
    to: row.to,
    content: row.content,
    messageId: row.messageId,
    dsn: extra.dsn,
    partialDelivery: extra.partialDelivery
  }
}

const statusOf = (row: Store.MessageRow): SmtpOutbox.Status => {
  const at = utc(row.finishedAt ?? row.enqueuedAt)
  switch (row.state) {
    case "Pending":
      return new Pending({
        id: row.id,
        attempts: row.attempts,
        nextAttemptAt: row.nextAttemptAt === undefined ? undefined : utc(row.nextAttemptAt),
        enqueuedAt: utc(row.enqueuedAt)
      })
    case "Sent":
      return new Sent({
        id: row.id,
        attempts: row.attempts,
        result: codec.decodeResultText(row.outcome ?? ""),
        sentAt: at
      })
    case "Failed": {
      const failure = codec.decodeFailureText(row.outcome ?? "")
      return new Failed({
        id: row.id,
        attempts: row.attempts,
        reason: failure.reason,
        error: failure.error as SmtpError.SmtpError,
        failedAt: at
      })
    }
    case "Unknown":
      return new Unknown({
        id: row.id,
        attempts: row.attempts,
        error: codec.decodeErrorText(row.outcome ?? "") as SmtpError.DeliveryUnknownError | AttemptCutError,
        since: at
      })
  }
}

/** @internal */
export const make = (options: SmtpOutbox.Options) =>
  Effect.gen(function*() {
    const prefix = options.tablePrefix ?? "smtp_outbox"
    const client = yield* SmtpClient
    const engine = yield* WorkflowEngine
    const store = yield* Store.make(prefix)
    const pause = yield* limits.makePause(prefix)
    const limiter = options.rateLimit === undefined ? undefined : yield* RateLimiter.make
    // A half-open window of (interval + jitter) holds at most `messages` starts spaced this far apart.
    const spacing = options.rateLimit === undefined ? undefined : Duration.divideUnsafe(
      Duration.sum(
        Duration.fromInputUnsafe(options.rateLimit.interval),
        Duration.fromInputUnsafe(options.rateLimit.jitter ?? Duration.millis(250))
      ),
      options.rateLimit.messages
    )
    const backoff = Duration.toMillis(options.rateLimit?.backoff ?? Duration.minutes(1))
    const retry = options.retry ?? defaultRetry

    const workflow = Workflow.make(`SmtpOutbox/${prefix}`, {
      payload: { id: Schema.String, generation: Schema.Number },
      idempotencyKey: ({ generation, id }) => `${id}/${generation}`
    })

    /** Ends a message once; the attempts histogram counts it when this call is the one that did. */
    const finish = (row: Store.MessageRow, state: Store.Finish["state"], outcome: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        persistently(store.finish({ id: row.id, generation: row.generation, state, outcome, finishedAt: now })).pipe(
          Effect.tap((attempts) =>
            attempts === undefined
              ? Effect.void
              : Metric.update(Metric.withAttributes(OutboxMetrics.attempts, { state }), attempts)
          )
        ))

    const waitFor = (reason: "rate_limit" | "pause", millis: number) =>
      Effect.andThen(
        Metric.update(Metric.withAttributes(OutboxMetrics.waits, { reason }), millis / 1000),
        Effect.sleep(Duration.millis(millis))
      )

    /** The shared pause, then a slot of the shared rate limit: waited for in memory, inside the attempt. */
    const waitForTurn = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const until = yield* persistently(pause.until)
      if (until > now) {
        yield* waitFor("pause", until - now)
      }
      if (limiter === undefined || spacing === undefined) {
        return
      }
      const taken = yield* limiter.consume({
        algorithm: "fixed-window",
        onExceeded: "delay",
        window: spacing,
        limit: 1,
        key: `${prefix}/rate`
      }).pipe(
        Effect.tapError((error) =>
          Effect.logWarning(error.message)
        ),
        Effect.retry(storeRetry),
        Effect.orDie
      )
      if (Duration.isGreaterThan(taken.delay, Duration.zero)) {
        yield* waitFor("rate_limit", Duration.toMillis(taken.delay))
      }
    })

    const attemptSpan = (row: Store.MessageRow, attempt: number) =>
      Effect.withSpan("smtp.outbox.attempt", {
        kind: "internal",
        attributes: { "smtp.outbox.message.id": row.id, "smtp.outbox.attempt": attempt },
        // The span of the enqueue that stored the message, in its own trace.
        links: row.traceId === undefined || row.spanId === undefined ? [] : [{
          span: Tracer.externalSpan({ traceId: row.traceId, spanId: row.spanId }),
          attributes: { "smtp.outbox.link": "enqueue" }
        }]
      })

    /**
     * One attempt of one message. `step` names it in the durable record
     * written just before the end of the message: found there when the
     * attempt runs again after a crash, it means the server may hold the
     * message, which is then parked as Unknown, never sent again.
     */
    const runAttempt = (id: string, generation: number, step: string): Effect.Effect<AttemptOutcome> =>
      Effect.gen(function*() {
        const row = yield* persistently(store.get(id))
        if (row === undefined || row.generation !== generation || row.state !== "Pending") return done
        if (row.endStep === step) {
          const cut = new AttemptCutError({ attempt: row.attempts, messageId: row.messageId, recipients: row.to })
          yield* finish(row, "Unknown", codec.encodeError(cut))
          return done
        }
        yield* waitForTurn
        yield* persistently(store.beginAttempt(id, generation))
        const attempt = row.attempts + 1
        const exit = yield* client.send(mailOf(row), { beforeEndOfData: store.recordEnd(id, generation, step) }).pipe(
          attemptSpan(row, attempt),
          Effect.exit
        )
        const ended = { ...row, attempts: attempt }
        if (Exit.isSuccess(exit)) {
          yield* finish(ended, "Sent", codec.encodeResult(exit.value))
          return done
        }
        const typed = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
        if (typed === undefined) return yield* Effect.failCause(exit.cause).pipe(Effect.orDie)
        if (typed._tag === "OutboxStoreError") {
          // The durable record could not be written, so the end was not sent:
          // this step runs again once the database answers. Had the record
          // been written after all, the step now finds it and parks the
          // message as Unknown: never a duplicate.
          yield* Effect.logWarning(typed.message)
          return yield* Effect.andThen(Effect.sleep(Duration.seconds(1)), runAttempt(id, generation, step))
        }
        const at = yield* Clock.currentTimeMillis
        if (typed._tag === "DeliveryUnknownError") {
          yield* finish(ended, "Unknown", codec.encodeError(typed))
          return done
        }
        if (isThrottling(typed)) yield* persistently(pause.extend(at + backoff))
        if (typed.retryable) return { _tag: "Retry", error: codec.encodeError(typed), at } as const
        yield* finish(ended, "Failed", codec.encodeFailure("Permanent", typed))
        return done
      })

    const attemptActivity = (id: string, generation: number, k: number) =>
      Activity.make({
        name: `attempt-${k}`,
        success: AttemptOutcome,
        execute: runAttempt(id, generation, `${generation}/${k}`)
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
            yield* finish(last, "Failed", codec.encodeFailure("RetriesExhausted", error))
            return
          }
          yield* persistently(store.scheduleNext(id, generation, nextAt))
          const wait = nextAt - (yield* Clock.currentTimeMillis)
          if (wait > 0) yield* DurableClock.sleep({ name: `retry-${k}`, duration: Duration.millis(wait) })
        }
      }))

    /**
     * Starts a stored message's workflow (a no-op when it runs already). On
     * a cluster the start travels to the runner that owns the message's
     * shard; when that runner has just died the call fails until its shards
     * move (seconds), so it is tried again for a while. The message is stored
     * whatever happens: one that could not be started is started by the
     * sweep below when a runner next starts.
     */
    const start = (id: string, generation: number): Effect.Effect<void> =>
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

    const refreshGauges = Effect.flatMap(store.census, ({ counts, oldestPending }) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.andThen(
          Effect.forEach(
            Object.entries(counts),
            ([state, n]) =>
              Metric.update(Metric.withAttributes(OutboxMetrics.messages, { state }), n),
            { discard: true }
          ),
          Metric.update(OutboxMetrics.oldestPendingAge, oldestPending === undefined ? 0 : (now - oldestPending) / 1000)
        )))
    yield* Effect.forkScoped(
      refreshGauges.pipe(
        Effect.catch((error) =>
          Effect.logWarning(error.message)
        ),
        Effect.repeat(Schedule.spaced(options.metricsInterval ?? Duration.seconds(15)))
      )
    )

    const service: SmtpOutbox.SmtpOutboxService = {
      enqueue: <E>(mail: SmtpClient.Sendable<E>, enqueueOptions?: SmtpOutbox.EnqueueOptions) =>
        Effect.gen(function*() {
          const invalid = SmtpClient.checkMail(mail)
          if (invalid !== undefined) {
            return yield* Effect.fail(invalid)
          }
          const envelope = "envelope" in mail ? mail.envelope : mail
          const content = yield* bytesOf(mail.content)
          const now = yield* Clock.currentTimeMillis
          const span = Option.getOrUndefined(yield* Effect.option(Effect.currentSpan))
          const stored = yield* store.insert({
            id: crypto.randomUUID(),
            idempotencyKey: enqueueOptions?.idempotencyKey,
            from: envelope.from,
            to: envelope.to,
            content,
            messageId: mail.messageId,
            extra: extraOf(mail),
            enqueuedAt: now,
            sendAt: enqueueOptions?.sendAt === undefined ? now : toMillis(enqueueOptions.sendAt),
            traceId: span?.traceId,
            spanId: span?.spanId
          })
          // A repeated key may follow a crash between storing and starting: start it (a no-op if running).
          const generation = stored.created ? 0 : (yield* store.get(stored.id))?.generation ?? 0
          yield* start(stored.id, generation)
          return stored.id
        }).pipe(Effect.withSpan("smtp.outbox.enqueue", { kind: "producer" })),
      status: (id) =>
        Effect.flatMap(store.get(id), (row) =>
          row === undefined ? Effect.fail(new MessageNotFoundError({ id })) : Effect.succeed(statusOf(row))),
      resend: (id) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const generation = yield* store.reopen(id, now)
          if (generation !== undefined) {
            return yield* start(id, generation)
          }
          const row = yield* store.get(id)
          if (row === undefined) {
            return yield* Effect.fail(new MessageNotFoundError({ id }))
          }
          return yield* Effect.fail(new ResendRefusedError({ id, state: row.state as "Pending" | "Sent" }))
        }).pipe(Effect.withSpan("smtp.outbox.resend", { attributes: { "smtp.outbox.message.id": id } }))
    }
    return service
  })

/** @internal */
export const layer = (
  options: SmtpOutbox.Options
): Layer.Layer<SmtpOutboxTag, OutboxStoreError, SmtpClient | SqlClient.SqlClient | WorkflowEngine> =>
  Layer.effect(SmtpOutboxTag, make(options)).pipe(
    Layer.provide(limits.layerRateLimiterStore(options.tablePrefix ?? "smtp_outbox"))
  )
