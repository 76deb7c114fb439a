/**
 * The shared pause after a "too many" reply, kept in the limits table: every
 * runner reads it before an attempt.
 */
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"
import { OutboxStoreError } from "../OutboxError.js"
import * as GroupCommit from "./groupCommit.js"

/**
 * The pause every runner honours after a "too many" reply: the time until
 * which no message is sent, kept in the limits table under its own key.
 *
 * @internal
 */
export interface Pause {
  /** Milliseconds since the epoch until which sends wait (0 when never paused). */
  readonly until: Effect.Effect<number, OutboxStoreError>
  /** Extends the pause to `until` (never shortens it). */
  readonly extend: (until: number) => Effect.Effect<void, OutboxStoreError>
}

const pauseKey = "smtp-outbox/pause"

/** @internal */
export const makePause = (prefix: string): Effect.Effect<Pause, never, SqlClient.SqlClient> =>
  SqlClient.SqlClient.useSync((client) => {
    const sql = client.withoutTransforms()
    const table = sql(`${prefix}_limits`)
    return {
      // Attempts starting side by side (a batch) read it once between them.
      until: GroupCommit.shared(
        sql<{ expires_at: number | string }>`SELECT expires_at FROM ${table} WHERE key = ${pauseKey}`.pipe(
          Effect.map((rows) => rows.length === 0 ? 0 : Number(rows[0].expires_at)),
          Effect.mapError((cause) => new OutboxStoreError({ operation: "reading the shared pause", cause }))
        )
      ),
      extend: (until) =>
        sql`
          INSERT INTO ${table} (key, count, expires_at) VALUES (${pauseKey}, 0, ${until})
          ON CONFLICT (key) DO UPDATE SET expires_at = CASE
            WHEN ${table}.expires_at < ${until} THEN ${until} ELSE ${table}.expires_at END
        `.pipe(
          Effect.asVoid,
          Effect.mapError((cause) => new OutboxStoreError({ operation: "extending the shared pause", cause }))
        )
    }
  })
