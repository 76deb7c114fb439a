/**
 * The outbox on the in-memory workflow engine and a SQLite file of its own,
 * sending through a scripted server: everything runs under TestClock.
 */
import { SmtpClient, SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import { TestSocket } from "@effect-smtp/testing"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { WorkflowEngine } from "@effect/workflow"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
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

export const clientLayer = (
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  options: Partial<SmtpClient.Options> = {}
) =>
  SmtpClient.layer({ host: "mail.test", port: 25, security: "none", timeout: "1 minute", ...options }).pipe(
    // Fresh: a client built earlier in the same test must not lend its protocol (and socket).
    Layer.provide(Layer.fresh(SmtpProtocol.layer)),
    Layer.provide(TestSocket.layer(script)),
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
