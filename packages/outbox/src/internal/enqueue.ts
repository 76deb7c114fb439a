import { SmtpClient, SmtpError } from "@effect-smtp/client"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Request from "effect/Request"
import * as RequestResolver from "effect/RequestResolver"
import type { OutboxStoreError } from "../OutboxError.js"
import type * as SmtpOutbox from "../SmtpOutbox.js"
import { bytesOf, extraOf, toMillis } from "./mail.js"
import type * as Rows from "./rows.js"
import type * as Store from "./store.js"
import type { Startable, Workflows } from "./workflow.js"

/**
 * How messages are stored and started: many in one transaction (one commit)
 * and, those due at the same time, in one batch workflow (see workflow.ts). `enqueueAll`
 * stores its entries so; concurrent single `enqueue`s are grouped the same
 * way (group commit) through a request resolver, which collects what callers
 * ask for until the runtime next yields.
 */

/** A checked message, ready to store, before its batch is decided. */
type Prepared = Omit<Rows.NewMessage, "batch">

/** Checks one message and reads its body: what `enqueue` stores. */
const prepare = <E>(mail: SmtpClient.Sendable<E>, options: SmtpOutbox.EnqueueOptions | undefined, index?: number) =>
  Effect.gen(function*() {
    const invalid = SmtpClient.checkMail(mail)
    if (invalid !== undefined) {
      return yield* Effect.fail(
        index === undefined
          ? invalid
          : new SmtpError.InvalidInputError({ ...invalid, field: `entries[${index}].${invalid.field}` })
      )
    }
    const envelope = "envelope" in mail ? mail.envelope : mail
    const content = yield* bytesOf(mail.content)
    const now = yield* Clock.currentTimeMillis
    const span = Option.getOrUndefined(yield* Effect.option(Effect.currentSpan))
    const prepared: Prepared = {
      id: crypto.randomUUID(),
      idempotencyKey: options?.idempotencyKey,
      from: envelope.from,
      to: envelope.to,
      content,
      messageId: mail.messageId,
      extra: extraOf(mail),
      enqueuedAt: now,
      sendAt: options?.sendAt === undefined ? now : toMillis(options.sendAt),
      traceId: span?.traceId,
      spanId: span?.spanId
    }
    return prepared
  })

interface Insert extends Request.Request<Rows.Stored, OutboxStoreError> {
  readonly message: Prepared
}
const Insert = Request.of<Insert>()

/** @internal */
export const make = (store: Store.Store, workflows: Workflows) => {
  /**
   * Stores the messages in one transaction, then starts what sends them:
   * those due at the same time (now, or the same later `sendAt`), two or
   * more, share one batch workflow; the others have their own. A repeated
   * key starts the first message's (a no-op when it runs: it may follow a
   * crash between storing and starting).
   */
  const storeAll = (messages: ReadonlyArray<Prepared>) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const dueAt = (message: Prepared) => Math.max(now, message.sendAt)
      const sizes = new Map<number, number>()
      for (const message of messages) sizes.set(dueAt(message), (sizes.get(dueAt(message)) ?? 0) + 1)
      const batches = new Map<number, string>()
      for (const [at, size] of sizes) if (size >= 2) batches.set(at, crypto.randomUUID())
      const stored = yield* store.insertAll(
        messages.map((message) => ({ ...message, batch: batches.get(dueAt(message)) }))
      )
      const starts = new Map<string, Startable>()
      for (const one of stored) {
        const key = one.batch !== undefined && one.generation === 0 ? `batch:${one.batch}` : one.id
        if (!starts.has(key)) starts.set(key, one)
      }
      yield* Effect.forEach(starts.values(), workflows.start, { concurrency: "unbounded", discard: true })
      return stored
    })

  const grouped = RequestResolver.make<Insert>((entries) =>
    storeAll(entries.map((entry) => entry.request.message)).pipe(
      Effect.exit,
      Effect.map((exit) =>
        entries.forEach((entry, i) =>
          entry.completeUnsafe(Exit.isSuccess(exit) ? Exit.succeed(exit.value[i]) : Exit.failCause(exit.cause))
        )
      )
    )
  )

  const enqueue: SmtpOutbox.SmtpOutboxService["enqueue"] = (mail, options) =>
    prepare(mail, options).pipe(
      Effect.flatMap((message) => Effect.request(Insert({ message }), grouped)),
      Effect.map((stored) => stored.id),
      Effect.withSpan("smtp.outbox.enqueue", { kind: "producer" })
    )

  const enqueueAll: SmtpOutbox.SmtpOutboxService["enqueueAll"] = (entries) =>
    Effect.suspend(() => {
      const all = Array.from(entries)
      return Effect.forEach(all, (entry, index) => prepare(entry.mail, entry, index)).pipe(
        Effect.flatMap((messages) => messages.length === 0 ? Effect.succeed([]) : storeAll(messages)),
        Effect.map((stored) => stored.map((one) => one.id)),
        Effect.withSpan("smtp.outbox.enqueueAll", { kind: "producer", attributes: { "smtp.outbox.count": all.length } })
      )
    })

  return { enqueue, enqueueAll }
}
