import type { SmtpClient } from "@effect-smtp/client"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Cause from "effect/Cause"
import * as ClusterWorkflowEngine from "effect/cluster/ClusterWorkflowEngine"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as Runners from "effect/cluster/Runners"
import * as Sharding from "effect/cluster/Sharding"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as SocketRunner from "effect/cluster/SocketRunner"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as Digest from "effect/crypto/Digest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import type { WorkflowEngine } from "effect/workflow/WorkflowEngine"
import { OutboxStoreError } from "../OutboxError.js"
import type * as SmtpOutbox from "../SmtpOutbox.js"
import * as Durability from "./durability.js"

/**
 * Settings for the outbox's runners, on top of the cluster's defaults: the
 * storage is polled every second (due retries and `sendAt` clocks are
 * noticed within about a second, not the default ten), and nothing is read
 * from the environment (the cluster's own `layerFromEnv`, which
 * `SingleRunner.layer` uses, would take `HOST` and `PORT` as the runner's
 * address).
 *
 * A shard that moves (a runner joined, or this one stops) waits for its
 * workflows to end for at most 2 seconds, not the default 15, before they
 * are interrupted and resumed by the shard's new owner: a busy runner's
 * workflows wait their turn for a connection (every stored message is
 * started at once), so waiting for them made a joining runner idle for
 * 20-40 s. With assignments refreshed every second, a joining runner takes
 * work within about 3 s of joining (measured: test/clusterJoin.test.ts). An
 * attempt interrupted before its durable record sent nothing, and the new
 * owner sends it; one past it first ends (shield.ts), within the outbox's
 * `stopTimeout`.
 */
const shardingConfig = (
  overrides: Partial<ShardingConfig.ShardingConfig["Service"]> | undefined,
  address: Partial<Pick<ShardingConfig.ShardingConfig["Service"], "runnerAddress" | "runnerListenAddress">>
): Layer.Layer<ShardingConfig.ShardingConfig> =>
  ShardingConfig.layer({
    entityMessagePollInterval: Duration.seconds(1),
    entityTerminationTimeout: Duration.seconds(2),
    // Runners that join or leave are noticed within a second, not three.
    refreshAssignmentsInterval: Duration.seconds(1),
    ...address,
    ...overrides
  })

/**
 * A layer that fails with `cause`, providing whatever the layer it stands in
 * for would have (what `catchCause` and `catchTag` want back).
 */
const failCause = <E>(cause: Cause.Cause<E>): Layer.Layer<unknown, E> =>
  Layer.unwrap<unknown, never, never, E, never>(Effect.failCause(cause))

/**
 * Builds `layer` again, each attempt from scratch (what an attempt acquired
 * is released when it fails), until it builds or `schedule` gives up.
 */
const retryLayer = <A, E, R, X>(
  layer: Layer.Layer<A, E, R>,
  schedule: Schedule.Schedule<X, E>
): Layer.Layer<A, E, R> =>
  Layer.fromBuild((memoMap, scope) =>
    Effect.retry(
      Effect.flatMap(Scope.fork(scope, "sequential"), (attempt) =>
        Layer.buildWithMemoMap(Layer.fresh(layer), memoMap, attempt).pipe(
          Effect.onExit((exit) => Exit.isFailure(exit) ? Scope.close(attempt, exit) : Effect.void)
        )),
      schedule
    )
  )

/**
 * What an outbox layer needs to run on the engine in context, on
 * `layerSqlite` and `layerCluster`: the layer is passed in so that this
 * module needs nothing of the public one at run time.
 */
type OutboxLayer<A> = Layer.Layer<A, OutboxStoreError, SmtpClient | SqlClient.SqlClient | WorkflowEngine>

/** @internal */
export const sqlite = <A>(
  options: SmtpOutbox.SqliteOptions,
  outbox: OutboxLayer<A>
): Layer.Layer<A, OutboxStoreError, SmtpClient> => {
  // One runner: no other runner to reach, no health to check (what
  // `SingleRunner.layer` composes, with the settings above).
  const sharding = Sharding.layer.pipe(
    Layer.provideMerge(Runners.layerNoop),
    Layer.provideMerge(SqlMessageStorage.layer),
    Layer.provide([Layer.orDie(SqlRunnerStorage.layer), RunnerHealth.layerNoop]),
    Layer.provide(shardingConfig(options.shardingConfig, {})),
    // The message storage hashes long keys.
    Layer.provide(Digest.layerWebCrypto)
  )
  const database = SqliteClient.layer({ filename: options.filename }).pipe(
    Layer.catchTag("SqlError", (cause) =>
      failCause(Cause.fail(
        new OutboxStoreError({ operation: `opening the SQLite database ${options.filename}`, cause })
      )))
  )
  // Durable commits without holding the event loop for each fsync (durability.ts).
  const durability = Layer.effect(
    Durability.CurrentDurability,
    Effect.gen(function*() {
      return yield* Durability.sqliteWal(yield* SqlClient.SqlClient, options.filename)
    })
  )
  return outbox.pipe(
    Layer.provide(Layer.fresh(ClusterWorkflowEngine.layer).pipe(Layer.provide(sharding))),
    Layer.provide(durability),
    Layer.provide(database)
  )
}

/** @internal */
export const cluster = <A>(
  options: SmtpOutbox.ClusterOptions,
  outbox: OutboxLayer<A>
): Layer.Layer<A, OutboxStoreError, SmtpClient | SqlClient.SqlClient> => {
  const runnerAddress = RunnerAddress.make(options.runnerAddress.host, options.runnerAddress.port)
  const config = shardingConfig(options.shardingConfig, {
    runnerAddress: Option.some(runnerAddress),
    runnerListenAddress: options.listenAddress === undefined
      ? Option.none()
      : Option.some(RunnerAddress.make(options.listenAddress.host, options.listenAddress.port))
  })
  // What `NodeClusterSocket.layer` composes, with the settings above instead of the environment.
  const sharding = SocketRunner.layer.pipe(
    Layer.provide([NodeClusterSocket.layerSocketServer, NodeClusterSocket.layerClientProtocol]),
    Layer.provide(RunnerHealth.layerPing.pipe(
      Layer.provide(Runners.layerRpc),
      Layer.provide(NodeClusterSocket.layerClientProtocol)
    )),
    Layer.provideMerge(SqlMessageStorage.layer),
    Layer.provide(SqlRunnerStorage.layer),
    Layer.provide(config),
    Layer.provide(RpcSerialization.layerSchemaBinary()),
    Layer.provide(Digest.layerWebCrypto),
    // A failure or a defect (the cluster's migrations die on a table another
    // runner made a moment before): a typed failure, so the start is retried.
    Layer.catchCause((cause) =>
      failCause(
        Cause.hasInterruptsOnly(cause) ? Cause.interrupt() : Cause.fail(
          new OutboxStoreError({
            operation: "starting the cluster runner (its tables and its socket server)",
            cause: Cause.squash(cause)
          })
        )
      )
    )
  )
  // Runners that start together race to create the cluster's tables; the
  // loser finds them made on its next try.
  return retryLayer(
    outbox.pipe(
      Layer.provide(Layer.fresh(ClusterWorkflowEngine.layer).pipe(Layer.provide(sharding)))
    ),
    Schedule.max([Schedule.spaced("1 second"), Schedule.recurs(5)])
  )
}
