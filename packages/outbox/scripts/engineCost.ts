/**
 * What Effect's workflow engine costs per message on its own, without the
 * outbox: on SQLite with one runner (the composition of `layerSqlite`),
 * `count` workflow executions, 32 at a time, of (a) an empty workflow and
 * (b) a workflow that runs one empty activity; and the rate of starts alone
 * (`discard: true`).
 *
 *   pnpm --filter @effect-smtp/outbox measure:engine [count]
 *
 * (through tsx; the figures in docs/outbox.md are of the script bundled with
 * esbuild and run on Node 24, as the bench runs its cases.)
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import * as Activity from "effect/workflow/Activity"
import * as Workflow from "effect/workflow/Workflow"
import { WorkflowEngine } from "effect/workflow/WorkflowEngine"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as layers from "../src/internal/layers.js"

const count = Number(process.argv[2] ?? 2000)

const Empty = Workflow.make("Empty", { payload: { n: Schema.Number }, idempotencyKey: ({ n }) => String(n) })
const OneActivity = Workflow.make("OneActivity", { payload: { n: Schema.Number }, idempotencyKey: ({ n }) => String(n) })

const seconds = (since: number) => (performance.now() - since) / 1000
const indices = Array.from({ length: count }, (_, n) => n)

const program = Effect.gen(function*() {
  const engine = yield* WorkflowEngine
  const sql = yield* SqlClient.SqlClient
  let ran = 0
  yield* engine.register(Empty, () => Effect.void)
  const empty = Activity.make({ name: "empty", execute: Effect.sync(() => void ran++) })
  yield* engine.register(OneActivity, () => Effect.gen(function*() { yield* empty }))
  const rate = (name: string, run: (n: number) => Effect.Effect<unknown, unknown, WorkflowEngine>) =>
    Effect.gen(function*() {
      const started = performance.now()
      yield* Effect.forEach(indices, run, { concurrency: 32, discard: true })
      process.stdout.write(`${name}: ${(count / seconds(started)).toFixed(0)} per second\n`)
    })
  yield* rate("empty workflow, awaited", (n) => Empty.execute({ n }))
  yield* rate("one empty activity, awaited", (n) => OneActivity.execute({ n }))
  yield* rate("empty workflow, started only (discard)", (n) => Empty.execute({ n: n + count }, { discard: true }))
  const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM cluster_messages`
  process.stdout.write(`activities run: ${ran}, cluster_messages rows: ${rows[0].n}\n`)
})

const directory = fs.mkdtempSync(path.join(os.tmpdir(), "engine-cost-"))
const filename = path.join(directory, "engine.db")
// The outbox's own SQLite composition, with a layer that only hands out the engine and the database.
const engineLayer = layers.sqlite(
  { filename },
  Layer.effectContext(Effect.context<WorkflowEngine | SqlClient.SqlClient>())
)
program.pipe(
  Effect.provide(engineLayer as Layer.Layer<WorkflowEngine | SqlClient.SqlClient>),
  Effect.scoped,
  Effect.ensuring(Effect.sync(() => fs.rmSync(directory, { recursive: true, force: true }))),
  NodeRuntime.runMain
)
