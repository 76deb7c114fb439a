/**
 * A durable outbox: `enqueue` stores a message (its exact bytes) and returns
 * its id; a workflow on `effect/workflow` sends it through the `SmtpClient`
 * in context, retrying what may be retried, and `status` says where it
 * stands. At least once for everything before the end of the message, at
 * most once past it unless a person resends (see docs/outbox.md).
 *
 * @since 0.1.0
 */
import type { SmtpClient } from "@effect-smtp/client"
import type { SmtpError } from "@effect-smtp/client"
import type * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schedule from "effect/Schedule"
import type * as SqlClient from "effect/sql/SqlClient"
import type { WorkflowEngine } from "effect/workflow/WorkflowEngine"
import * as layers from "./internal/layers.js"
import * as limits from "./internal/limits.js"
import * as internal from "./internal/outbox.js"
import type { Status } from "./internal/status.js"
import type { MessageNotFoundError, OutboxStoreError, ResendRefusedError } from "./OutboxError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface EnqueueOptions {
  /**
   * The same key enqueues once: a second `enqueue` with it stores nothing
   * and returns the first message's id (e.g. the id of the order the mail
   * is about, so a request handler that runs twice sends once).
   */
  readonly idempotencyKey?: string | undefined
  /** Send no earlier than this (a durable clock: a restart does not lose it). Default: now. */
  readonly sendAt?: DateTime.DateTime | Date | number | undefined
}

/**
 * One message of an `enqueueAll`, with its own options.
 *
 * @since 0.1.0
 * @category models
 */
export interface EnqueueEntry<E = never> extends EnqueueOptions {
  readonly mail: SmtpClient.Sendable<E>
}

/**
 * Where a message stands: `Pending`, `Sent`, `Failed` or `Unknown` (each
 * documented where it is declared).
 *
 * @since 0.1.0
 * @category models
 */
export { Failed, Pending, Sent, type Status, Unknown } from "./internal/status.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface RateLimitOptions {
  /**
   * At most this many messages per `interval` as the server sees them, across
   * every runner: starts are spaced `(interval + jitter) / messages` apart, so
   * any window of `interval` holds at most `messages` even when some starts
   * are up to `jitter` late.
   */
  readonly messages: number
  readonly interval: Duration.Input
  /**
   * How late a start may run (event-loop lag, a connection to open) without
   * the server seeing more than `messages` in an interval. Default 250 ms,
   * which costs a 30-a-minute limit about 0.4% of its rate.
   */
  readonly jitter?: Duration.Input | undefined
  /**
   * How long every runner pauses after a "too many" reply (421, 432, 450,
   * 451 or 454 saying too many, rate, limit or throttled). Default 1 minute.
   */
  readonly backoff?: Duration.Input | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * When to try again after a retryable failure (a 4xx, a network failure
   * or timeout before the end of the message), stepped on a durable clock.
   * Default: 30 seconds, doubling, at most an hour apart, 10 retries.
   */
  readonly retry?: Schedule.Schedule<unknown, SmtpError.SmtpError> | undefined
  /** A message rate shared by every runner on the database. */
  readonly rateLimit?: RateLimitOptions | undefined
  /** How often the state gauges are read from the database (default 15 seconds). */
  readonly metricsInterval?: Duration.Input | undefined
  /**
   * How long an attempt that has begun to send the end of its message may
   * go on when the outbox stops, or when its work moves to another runner
   * (one joins or leaves a cluster): it waits for the server's reply and
   * writes the outcome, so the message ends `Sent` (or `Failed`). Past this
   * the attempt is cut and its message parked `Unknown`. Attempts not yet
   * that far stop at once and are sent again later. Default: 10 seconds.
   */
  readonly stopTimeout?: Duration.Input | undefined
  /**
   * The outbox's tables are `<prefix>_messages`, `<prefix>_bodies` (each
   * message's bytes), `<prefix>_limits` and `<prefix>_adaptive` (the
   * rate-limit store's adaptive state) (default "smtp_outbox").
   */
  readonly tablePrefix?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SmtpOutboxService {
  /**
   * Stores the message durably and returns its id; it is sent as soon as it
   * is due. Bad input fails here, before anything is stored, with the
   * client's `InvalidInputError`. A streamed body is read to the end first:
   * what is stored is the exact bytes every attempt sends.
   */
  readonly enqueue: <E = never>(
    mail: SmtpClient.Sendable<E>,
    options?: EnqueueOptions
  ) => Effect.Effect<string, SmtpError.InvalidInputError | OutboxStoreError | E>
  /**
   * Stores many messages in one transaction and returns their ids in order;
   * each entry has its own idempotency key and `sendAt`, which behave as in
   * `enqueue` (a key stored before, or earlier in the same call, stores
   * nothing and gives the first message's id). Every entry is checked
   * first: bad input fails with the client's `InvalidInputError` naming the
   * entry (`entries[3].to`), and nothing is stored. Those due now are sent
   * by one workflow (fewer steps persisted per message).
   */
  readonly enqueueAll: <E = never>(
    entries: Iterable<EnqueueEntry<E>>
  ) => Effect.Effect<ReadonlyArray<string>, SmtpError.InvalidInputError | OutboxStoreError | E>
  readonly status: (id: string) => Effect.Effect<Status, MessageNotFoundError | OutboxStoreError>
  /**
   * Sends an `Unknown` or `Failed` message again, as a new series of
   * attempts. The explicit way past "at most once": only a person (or code
   * that checked) knows the first one did not arrive.
   */
  readonly resend: (id: string) => Effect.Effect<void, MessageNotFoundError | ResendRefusedError | OutboxStoreError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class SmtpOutbox extends Context.Service<SmtpOutbox, SmtpOutboxService>()("@effect-smtp/outbox/SmtpOutbox") {}

/**
 * @since 0.1.0
 * @category accessors
 */
export const enqueue = <E = never>(
  mail: SmtpClient.Sendable<E>,
  options?: EnqueueOptions
): Effect.Effect<string, SmtpError.InvalidInputError | OutboxStoreError | E, SmtpOutbox> =>
  SmtpOutbox.use((outbox) => outbox.enqueue(mail, options))

/**
 * @since 0.1.0
 * @category accessors
 */
export const enqueueAll = <E = never>(
  entries: Iterable<EnqueueEntry<E>>
): Effect.Effect<ReadonlyArray<string>, SmtpError.InvalidInputError | OutboxStoreError | E, SmtpOutbox> =>
  SmtpOutbox.use((outbox) => outbox.enqueueAll(entries))

/**
 * @since 0.1.0
 * @category accessors
 */
export const status = (id: string): Effect.Effect<Status, MessageNotFoundError | OutboxStoreError, SmtpOutbox> =>
  SmtpOutbox.use((outbox) => outbox.status(id))

/**
 * @since 0.1.0
 * @category accessors
 */
export const resend = (
  id: string
): Effect.Effect<void, MessageNotFoundError | ResendRefusedError | OutboxStoreError, SmtpOutbox> =>
  SmtpOutbox.use((outbox) => outbox.resend(id))

/**
 * The outbox on whatever runs workflows (`WorkflowEngine`) and stores its
 * tables (`SqlClient`): the building block of `layerSqlite` and
 * `layerCluster`, and with `WorkflowEngine.layerMemory` a test double that
 * runs under `TestClock`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<
  SmtpOutbox,
  OutboxStoreError,
  SmtpClient | SqlClient.SqlClient | WorkflowEngine
> =>
  Layer.effect(SmtpOutbox, internal.make(options)).pipe(
    Layer.provide(limits.layerRateLimiterStore(internal.prefixOf(options)))
  )

/**
 * @since 0.1.0
 * @category models
 */
export interface SqliteOptions extends Options {
  /** The SQLite database file (created when missing). */
  readonly filename: string
  /** Overrides of the single runner's cluster settings (no environment variable is read). */
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Service"]> | undefined
}

/**
 * The outbox on one machine: SQLite (`@effect/sql-sqlite-node` on Node's
 * built-in `node:sqlite`, nothing to compile) holds the messages and the
 * workflows, run by a single `effect/cluster` runner. Only one process may
 * use the file at a time. A file that cannot be opened fails the layer with
 * an `OutboxStoreError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite = (
  options: SqliteOptions
): Layer.Layer<SmtpOutbox, OutboxStoreError, SmtpClient> => layers.sqlite(options, layer(options))

/**
 * @since 0.1.0
 * @category models
 */
export interface ClusterOptions extends Options {
  /** Where other runners reach this one (unique per runner). */
  readonly runnerAddress: { readonly host: string; readonly port: number }
  /** Where this runner listens, when not `runnerAddress` (e.g. 0.0.0.0 in a container). */
  readonly listenAddress?: { readonly host: string; readonly port: number } | undefined
  /** Overrides of the cluster's settings (no environment variable is read). */
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Service"]> | undefined
}

/**
 * The outbox on several machines: every runner process uses this layer with
 * its own `runnerAddress` and the same database (the `SqlClient` in context:
 * PostgreSQL through `@effect/sql-pg`'s `PgClient.layer`). The runners share
 * the work (a crashed runner's messages move to the others), the rate limit
 * and the pause after a "too many" reply.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerCluster = (
  options: ClusterOptions
): Layer.Layer<SmtpOutbox, OutboxStoreError, SmtpClient | SqlClient.SqlClient> =>
  layers.cluster(options, layer(options))
