/**
 * SMTP over a `Socket` connection: the greeting, EHLO (with HELO fallback),
 * STARTTLS, AUTH, and mail transactions with DATA or BDAT. It knows nothing of
 * metrics; failures are typed errors carrying what the metrics need.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { Capabilities } from "./internal/capabilities.js"
import type { DsnOptions } from "./internal/commands.js"
import type { ProtocolLogOptions } from "./internal/protocolLog.js"
import type { Reply } from "./internal/reply.js"
import type { Credentials } from "./internal/sasl.js"
import * as session from "./internal/session.js"
import type { SmtpError } from "./SmtpError.js"
import { Socket, type TlsOptions } from "./Socket.js"

export type {
  /**
   * @since 0.1.0
   * @category models
   */
  Capabilities,
  /**
   * @since 0.1.0
   * @category models
   */
  Credentials,
  /**
   * @since 0.1.0
   * @category models
   */
  DsnOptions,
  /**
   * @since 0.1.0
   * @category models
   */
  ProtocolLogOptions,
  /**
   * @since 0.1.0
   * @category models
   */
  Reply
}

/**
 * How the connection is secured:
 * - "tls": implicit TLS from the first byte (SMTPS, usually port 465);
 * - "starttls": STARTTLS is required; a server without it is an error and
 *   nothing is sent in plaintext;
 * - "starttls-if-available": STARTTLS when offered; plaintext otherwise, but
 *   only when no credentials would be sent;
 * - "none": plaintext.
 *
 * @since 0.1.0
 * @category models
 */
export type Security = "tls" | "starttls" | "starttls-if-available" | "none"

/**
 * Every wait of a session. Defaults are RFC 5321 §4.5.3.2's minimums.
 *
 * @since 0.1.0
 * @category models
 */
export interface Timeouts {
  /** One TCP connect attempt, TLS handshake included. */
  readonly connect: Duration.Duration
  readonly greeting: Duration.Duration
  /** EHLO, HELO, STARTTLS, AUTH, RSET, NOOP, QUIT. */
  readonly command: Duration.Duration
  readonly mail: Duration.Duration
  readonly rcpt: Duration.Duration
  readonly dataInitiation: Duration.Duration
  /** Each write of body data. */
  readonly dataBlock: Duration.Duration
  /** The reply after the final dot (or BDAT LAST). */
  readonly dataTermination: Duration.Duration
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const defaultTimeouts: Timeouts = {
  connect: Duration.minutes(2),
  greeting: Duration.minutes(5),
  command: Duration.minutes(5),
  mail: Duration.minutes(5),
  rcpt: Duration.minutes(5),
  dataInitiation: Duration.minutes(2),
  dataBlock: Duration.minutes(3),
  dataTermination: Duration.minutes(10)
}

/**
 * Timeouts from `timeout` (every wait at once) and finer overrides beside it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolveTimeouts = (
  timeout?: Duration.DurationInput | undefined,
  overrides?: { readonly [K in keyof Timeouts]?: Duration.DurationInput | undefined } | undefined
): Timeouts => {
  const base = timeout === undefined ? undefined : Duration.decode(timeout)
  const result: Record<string, Duration.Duration> = {}
  for (const key of Object.keys(defaultTimeouts) as Array<keyof Timeouts>) {
    const override = overrides?.[key]
    result[key] = override !== undefined ? Duration.decode(override) : base ?? defaultTimeouts[key]
  }
  return result as unknown as Timeouts
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  readonly host: string
  readonly port: number
  readonly security: Security
  readonly tls?: TlsOptions | undefined
  /** The name sent with EHLO (default `[127.0.0.1]`). */
  readonly ehloName?: string | undefined
  readonly timeouts: Timeouts
  /**
   * Credentials will follow: with "starttls-if-available", a server without
   * STARTTLS is then an error rather than a plaintext session.
   */
  readonly credentialsFollow?: boolean | undefined
  /**
   * Logs the conversation on Effect's Logger (`C:` / `S:` lines); AUTH
   * payloads are always redacted, bodies summarised unless `body` is set.
   */
  readonly protocolLog?: boolean | ProtocolLogOptions | undefined
  /** Told the peer's IP as soon as the transport connects (for telemetry). */
  readonly onTransport?: ((remoteAddress: string) => void) | undefined
}

/**
 * The envelope and body of one message.
 *
 * @since 0.1.0
 * @category models
 */
export interface Envelope<E = never> {
  readonly from: string
  readonly to: ReadonlyArray<string>
  /** The RFC 5322 message, headers and body. */
  readonly content: string | Uint8Array | Stream.Stream<Uint8Array, E>
  /** Declared with SIZE when the content is a stream of known length. */
  readonly size?: number | undefined
  readonly dsn?: DsnOptions | undefined
  /** The message's Message-ID, when known: reported back in results and errors. */
  readonly messageId?: string | undefined
  /**
   * When some recipients are refused: "send" to the rest (the default; the
   * result lists the refused), or "abort" the transaction with RSET.
   */
  readonly partialDelivery?: "send" | "abort" | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RecipientResult {
  readonly recipient: string
  readonly statusCode: number
  readonly enhancedStatusCode?: string | undefined
  readonly message: string
}

/**
 * The outcome of a transaction the server accepted for at least one
 * recipient.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransactionResult {
  readonly accepted: ReadonlyArray<string>
  readonly rejected: ReadonlyArray<RecipientResult>
  /** Every recipient's reply to RCPT, accepted or not, in order. */
  readonly recipients: ReadonlyArray<RecipientResult>
  /** The server's final reply, e.g. `250 2.0.0 Ok: queued as 4Xyz`. */
  readonly response: string
  readonly statusCode: number
  readonly enhancedStatusCode?: string | undefined
  /** Bytes of body sent, after normalisation and dot-stuffing. */
  readonly bytesSent: number
  /** The server's queue ID, when its final reply carries one (`queued as 4XyZ`, `id=...`). */
  readonly queueId?: string | undefined
  /** Milliseconds (Effect's Clock) for MAIL..DATA's 354 and for the body up to the final reply. */
  readonly timings: { readonly envelopeMs: number; readonly dataMs: number }
}

/**
 * An open SMTP session. Its methods are not for concurrent use: one
 * transaction at a time.
 *
 * @since 0.1.0
 * @category models
 */
export interface Session {
  readonly host: string
  readonly port: number
  readonly remoteAddress: string
  readonly greeting: Reply
  /** What the server offers now (after STARTTLS: what it offered then). */
  readonly capabilities: Effect.Effect<Capabilities>
  readonly isTls: Effect.Effect<boolean>
  /**
   * The error that made the session unusable (I/O, timeout, protocol, 421),
   * if one did. A broken session is closed, never reused.
   */
  readonly broken: Effect.Effect<SmtpError | undefined>
  /** Interrupted mid-exchange: out of step with the server, never reused. */
  readonly interrupted: Effect.Effect<boolean>
  /** The end of a message was written and its reply has not come: delivery is unknown until it does. */
  readonly awaitingFinalReply: Effect.Effect<boolean>
  readonly authenticate: (credentials: Credentials) => Effect.Effect<void, SmtpError>
  /**
   * MAIL, RCPT for each recipient, DATA or BDAT; RSET after a failure.
   *
   * With `pipelineNext` (and PIPELINING), the next message's MAIL, RCPT and
   * DATA go out in the same write as this body's end (RFC 2920 §3.1); that
   * message must be the next one sent on this session.
   *
   * `beforeEndOfData` runs once, just before the first write that carries the
   * end of the message (the final dot, or BDAT LAST; for a body sent as one
   * buffer, before that buffer). If it fails, the end is never written, the
   * session is broken (closed, never reused) and the send fails with its error.
   */
  readonly send: <E>(
    envelope: Envelope<E>,
    options?: {
      readonly pipelineNext?: Envelope<unknown> | undefined
      readonly beforeEndOfData?: Effect.Effect<void, E> | undefined
    }
  ) => Effect.Effect<TransactionResult, SmtpError | E>
  readonly rset: Effect.Effect<void, SmtpError>
  readonly noop: Effect.Effect<void, SmtpError>
  /** Says goodbye; the socket closes with the scope. */
  readonly quit: Effect.Effect<void, SmtpError>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SmtpProtocolService {
  /** Connects, reads the greeting, says EHLO and secures the session. */
  readonly connect: (options: ConnectOptions) => Effect.Effect<Session, SmtpError, Scope.Scope>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class SmtpProtocol extends Context.Tag("@effect-smtp/client/SmtpProtocol")<
  SmtpProtocol,
  SmtpProtocolService
>() {
  /**
   * The protocol over whatever `Socket` is provided.
   *
   * @since 0.1.0
   * @category layers
   */
  static get layer(): Layer.Layer<SmtpProtocol, never, Socket> {
    return layer
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<SmtpProtocol, never, Socket> = Layer.effect(SmtpProtocol, session.makeProtocol(Socket))
