/**
 * The contract between the engine and what carries a connection.
 */
import type * as Effect from "effect/Effect"

/**
 * One connection as the engine sees it, whatever carries it: TCP (with a real
 * TLS upgrade) or the in-memory `TestSocket`.
 *
 * @internal
 */
export interface ClientLink {
  /** The next line without CRLF; `undefined` when the client closed, `null` when longer than `maxBytes`. */
  readonly readLine: (maxBytes: number) => Effect.Effect<string | undefined | null>
  /** Exactly `n` bytes, or `undefined` when the client closed first. */
  readonly readBytes: (n: number) => Effect.Effect<Uint8Array | undefined>
  /** A DATA body with dot-stuffing undone, at most `keep` bytes of it; `undefined` when the client closed first. */
  readonly readData: (keep: number) => Effect.Effect<Uint8Array | undefined>
  /** Whether client bytes are waiting to be read (a pipelined command, say). */
  readonly hasPending: Effect.Effect<boolean>
  /** Whether the connection is TLS from its first byte. */
  readonly isTls: Effect.Effect<boolean>
  /** Whether STARTTLS can be carried out here. */
  readonly canStartTls: boolean
  /** Writes; false when the connection is gone. */
  readonly write: (data: string | Uint8Array) => Effect.Effect<boolean>
  /** Writes `reply` and starts TLS; false when the handshake failed. */
  readonly startTls: (reply: string) => Effect.Effect<boolean>
  /** A graceful close (FIN). */
  readonly end: Effect.Effect<void>
  /** An abort (RST). */
  readonly reset: Effect.Effect<void>
}
