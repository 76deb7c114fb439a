import type { SmtpClient } from "@effect-smtp/client"
import * as ClusterWorkflowEngine from "effect/cluster/ClusterWorkflowEngine"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as Runners from "effect/cluster/Runners"
import * as Sharding from "effect/cluster/Sharding"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as SocketRunner from "effect/cluster/SocketRunner"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import type * as SqlClient from "effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { OutboxStoreError } from "../OutboxError.js"
import type * as SmtpOutbox from "../SmtpOutbox.js"
import * as outbox from "./outbox.js"

/**
 * Settings for the outbox's runners, on top of the cluster's defaults: the
 * storage is polled every second (due retries and `sendAt` clocks are
 * noticed within about a second, not the default ten), and nothing is read
 * from the environment (the cluster's own `layerFromEnv` would take `HOST`
 * and `PORT` as the runner's address).
 */
const shardingConfig = (
  overrides: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined,
  address: Partial<Pick<ShardingConfig.ShardingConfig["Type"], "runnerAddress" | "runnerListenAddress">>
): Layer.Layer<ShardingConfig.ShardingConfig> =>
  ShardingConfig.layer({
    entityMessagePollInterval: Duration.seconds(1),
    ...address,
    ...overrides
  })

/** @internal */
export const sqlite = (
  options: SmtpOutbox.SqliteOptions
): Layer.Layer<SmtpOutbox.SmtpOutbox, OutboxStoreError | ConfigError.ConfigError, SmtpClient> => {
  // One runner: no other runner to reach, no health to check.
  const sharding = Sharding.layer.pipe(
    Layer.provideMerge(Runners.layerNoop),
    Layer.provideMerge(Layer.orDie(SqlMessageStorage.layer)),
    Layer.provide([Layer.orDie(SqlRunnerStorage.layer), RunnerHealth.layerNoop]),
    Layer.provide(shardingConfig(options.shardingConfig, {}))
  )
  return outbox.layer(options).pipe(
    Layer.provide(Layer.fresh(ClusterWorkflowEngine.layer).pipe(Layer.provide(sharding))),
    Layer.provide(SqliteClient.layer({ filename: options.filename }))
  )
}

/** @internal */
export const cluster = (
  options: SmtpOutbox.ClusterOptions
): Layer.Layer<SmtpOutbox.SmtpOutbox, OutboxStoreError, SmtpClient | SqlClient.SqlClient> => {
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
    Layer.provide(RpcSerialization.layerMsgPack),
    // A failure or a defect (the cluster's migrations die on a table another
    // runner made a moment before): a typed failure, so the start is retried.
    Layer.catchCause((cause) =>
      Layer.failCause(
        Cause.hasInterruptsOnly(cause) ? Cause.interrupt(FiberId.none) : Cause.fail(
          new OutboxStoreError({
            operation: "starting the cluster runner (its tables and its socket server)",
            cause: Cause.squash(cause)
          })
        )
      )
    )
  )
  return outbox.layer(options).pipe(
    Layer.provide(Layer.fresh(ClusterWorkflowEngine.layer).pipe(Layer.provide(sharding))),
    // Runners that start together race to create the cluster's tables; the
    // loser finds them made on its next try.
    Layer.retry(Schedule.spaced("1 second").pipe(Schedule.max(Schedule.recurs(5))))
  )
}
