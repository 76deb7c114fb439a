/**
 * The outbox on the in-memory workflow engine and a SQLite file of its own,
 * sending through a scripted server: everything runs under TestClock.
 */
import {
  type Connection,
  type ConnectOptions,
  SmtpClient,
  SmtpMetrics,
  SmtpProtocol,
  Socket
} from "@effect-smtp/client"
import { TestSocket } from "@effect-smtp/testing"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlClient from "effect/sql/SqlClient"
import * as WorkflowEngine from "effect/workflow/WorkflowEngine"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { SmtpOutbox } from "../../src/index.js"

/** A fresh database file, removed with the scope. */
export const tempDatabase = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "outbox-test-"))
    return { dir, filename: path.join(dir, "outbox.sqlite") }
  }),
  ({ dir }) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/**
 * The scripted server's bytes reach the client on a later turn, as a real
 * socket's do. Effect 4 resumes a fiber waiting on a callback at once, inside
 * the fiber that resumed it: without this, a script's `send` would run the
 * client up to its next write before the script's following step (hanging
 * up, say) has run.
 */
const laterTurn = (connection: Connection): Connection => {
  const awaitRead = connection.awaitRead
  return {
    ...connection,
    read: Effect.tap(connection.read, () => Effect.yieldNow),
    awaitRead: awaitRead === undefined
      ? undefined
      : (resume) => awaitRead((result) => resume(Effect.tap(result, () => Effect.yieldNow)))
  }
}

const scriptedSocket = (script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>) =>
  Layer.effect(
    Socket,
    Socket.useSync((socket) => ({
      connect: (options: ConnectOptions) => Effect.map(socket.connect(options), laterTurn)
    }))
  ).pipe(Layer.provide(TestSocket.layer(script)))

export const clientLayer = (
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  options: Partial<SmtpClient.Options> = {}
) =>
  SmtpClient.layer({ host: "mail.test", port: 25, security: "none", timeout: "1 minute", ...options }).pipe(
    // Fresh: a client built earlier in the same test must not lend its protocol (and socket).
    Layer.provide(Layer.fresh(SmtpProtocol.layer)),
    Layer.provide(scriptedSocket(script)),
    Layer.provide(SmtpMetrics.layerNoop)
  )

/** The outbox (and the SqlClient of its database, for looking at the tables). */
export const memoryOutbox = (
  filename: string,
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  options: SmtpOutbox.Options = {}
) =>
  SmtpOutbox.layer(options).pipe(
    // Fresh: a layer built earlier in the same test (and closed) must not lend its engine.
    Layer.provide(Layer.fresh(WorkflowEngine.layerMemory)),
    Layer.provide(clientLayer(script)),
    Layer.provideMerge(SqliteClient.layer({ filename }))
  )

/** The n-th test message: its content names it, and it carries a Message-ID. */
export const message = (n: number) => ({
  from: "app@example.com",
  to: ["rcpt@example.com"],
  content: `Subject: message ${n}\r\nMessage-ID: <m${n}@example.com>\r\n\r\nbody ${n}\r\n`,
  messageId: `<m${n}@example.com>`
})

/** Builds the outbox on a fresh database (or `filename`) in the test's scope. */
export const outbox = (
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  options: SmtpOutbox.Options = {},
  filename?: string
) =>
  Effect.gen(function*() {
    const file = filename ?? (yield* tempDatabase).filename
    // The state gauges' refresh stays out of the way of long clock adjustments.
    // A memo map of its own: nothing of an outbox built (and closed) earlier in the test is shared.
    const context = yield* Layer.buildWithMemoMap(
      memoryOutbox(file, script, { metricsInterval: "1 day", ...options }),
      yield* Layer.makeMemoMap,
      yield* Effect.scope
    )
    return {
      filename: file,
      service: Context.get(context, SmtpOutbox.SmtpOutbox),
      sql: Context.get(context, SqlClient.SqlClient)
    }
  })

/** Lets the workflows' fibers run until nothing more happens without the clock moving. */
// 1,000 turns: the writes of the group writer (groupCommit.ts) take a few turns each, and how
// many a test's fibers need varies from run to run with the order of the engine's maps (keyed by
// random ids); at 200 one run in a dozen of the retry test found its workflow not yet asleep.
export const settle = Effect.repeat(Effect.yieldNow, { times: 1000 })
