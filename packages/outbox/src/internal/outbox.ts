import { SmtpClient, type SmtpError } from "@effect-smtp/client"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { MessageNotFoundError, ResendRefusedError } from "../OutboxError.js"
import type * as SmtpOutbox from "../SmtpOutbox.js"
import * as Attempt from "./attempt.js"
import * as Enqueue from "./enqueue.js"
import * as Gauges from "./gauges.js"
import { makePause } from "./pause.js"
import * as Shield from "./shield.js"
import { statusOf } from "./status.js"
import * as Store from "./store.js"
import * as Turn from "./turn.js"
import * as Workflows from "./workflow.js"

/**
 * The outbox service: its parts put together (the store, the limits, one
 * attempt, the workflow, the gauges) and the three operations a caller
 * sees, `enqueue` and `enqueueAll` (enqueue.ts), `status` and `resend`.
 */

/** Default retries: 30 s, doubling, at most an hour apart, 10 of them (about 5 hours in all). */
const defaultRetry: Schedule.Schedule<unknown, SmtpError.SmtpError> = Schedule.max([
  Schedule.min([Schedule.exponential("30 seconds"), Schedule.spaced("1 hour")]),
  Schedule.recurs(10)
])

/**
 * How long an attempt past its durable record may take to end when the
 * outbox stops or its shard moves: a server answers the end of a message
 * in milliseconds, a slow content filter in seconds; a process manager
 * gives a stopping process about 30 s (Kubernetes' default) before it
 * kills it.
 */
const defaultStopTimeout = "10 seconds"

/** @internal */
export const prefixOf = (options: SmtpOutbox.Options): string => options.tablePrefix ?? "smtp_outbox"

/** @internal */
export const make = (options: SmtpOutbox.Options) =>
  Effect.gen(function*() {
    const prefix = prefixOf(options)
    const client = yield* SmtpClient
    const store = yield* Store.make(prefix)
    const pause = yield* makePause(prefix)
    const turn = yield* Turn.make({ prefix, rateLimit: options.rateLimit, pause })
    // When the outbox stops, the shield's stop (shield.ts) comes first: the
    // attempts past their durable record end, together, within one
    // `stopTimeout`, while the store and the client still run. Only then
    // are the workflows interrupted. They run in a scope of their own,
    // closed after it: an engine may fork each workflow into the scope it
    // was registered in, and the finalizers added there as workflows start
    // would otherwise run first, one after the other, each interruption
    // waiting up to `stopTimeout` for its attempt.
    const shield = Shield.make(options.stopTimeout ?? defaultStopTimeout)
    const running = yield* Scope.fork(yield* Effect.scope, "sequential")
    yield* Effect.addFinalizer(() => shield.stop)
    const attempts = Attempt.make(client, store, turn, shield)
    const workflows = yield* Scope.provide(
      Workflows.make({ prefix, retry: options.retry ?? defaultRetry, store, attempts }),
      running
    )
    yield* Gauges.refreshEvery(store, options.metricsInterval)

    const { enqueue, enqueueAll } = Enqueue.make(store, workflows)

    const status: SmtpOutbox.SmtpOutboxService["status"] = (id) =>
      Effect.flatMap(store.get(id), (row) =>
        row === undefined ? Effect.fail(new MessageNotFoundError({ id })) : Effect.succeed(statusOf(row)))

    const resend: SmtpOutbox.SmtpOutboxService["resend"] = (id) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const generation = yield* store.reopen(id, now)
        if (generation !== undefined) {
          return yield* workflows.start({ id, generation, batch: undefined })
        }
        const row = yield* store.get(id)
        if (row === undefined) {
          return yield* Effect.fail(new MessageNotFoundError({ id }))
        }
        return yield* Effect.fail(new ResendRefusedError({ id, state: row.state as "Pending" | "Sent" }))
      }).pipe(Effect.withSpan("smtp.outbox.resend", { attributes: { "smtp.outbox.message.id": id } }))

    const service: SmtpOutbox.SmtpOutboxService = { enqueue, enqueueAll, status, resend }
    return service
  })
