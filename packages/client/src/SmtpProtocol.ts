/**
 * SMTP over a `Socket` connection: the greeting, EHLO (with HELO fallback),
 * STARTTLS, AUTH, and mail transactions with DATA or BDAT. It knows nothing of
 * metrics; failures are typed errors carrying what the metrics need.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as LogLevel from "effect/LogLevel"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as internalOutgoing from "./internal/outgoing.js"
import * as protocol from "./internal/protocol.js"
import * as timeouts from "./internal/timeouts.js"
import type { Message, SendOptions, TransactionResult } from "./internal/transactionModels.js"
import type { SmtpError } from "./SmtpError.js"
import { Socket, type TlsOptions } from "./Socket.js"

// The message a transaction sends, and what it gives back, are declared in
// internal/transactionModels.ts.
export type {
  DeliveryProgress,
  Envelope,
  Message,
  RecipientResult,
  SendOptions,
  TransactionResult
} from "./internal/transactionModels.js"

/**
 * A complete server reply (RFC 5321 §4.2).
 *
 * @since 0.1.0
 * @category models
 */
export interface Reply {
  readonly code: number
  /** The enhanced status code (RFC 3463) of the first line, e.g. `5.1.1`. */
  readonly enhancedCode: string | undefined
  /** The text of each line, without the code, separator or enhanced code. */
  readonly lines: ReadonlyArray<string>
}

/**
 * What the server said it supports in its EHLO reply (RFC 5321 §4.1.1.1).
 *
 * @since 0.1.0
 * @category models
 */
export interface Capabilities {
  /** Every keyword, upper-cased, with its parameters. */
  readonly keywords: ReadonlyMap<string, ReadonlyArray<string>>
  /** The SIZE limit; `undefined` when none is declared or it is 0 (no limit). */
  readonly size: number | undefined
  readonly pipelining: boolean
  readonly eightBitMime: boolean
  readonly smtpUtf8: boolean
  readonly dsn: boolean
  readonly enhancedStatusCodes: boolean
  readonly chunking: boolean
  readonly binaryMime: boolean
  readonly startTls: boolean
  readonly requireTls: boolean
  /** AUTH mechanisms, upper-cased. */
  readonly auth: ReadonlyArray<string>
}

/**
 * Credentials. Secrets are `Redacted`, so they print as `<redacted>` in logs,
 * spans and errors.
 *
 * @since 0.1.0
 * @category models
 */
export type Credentials =
  | {
    readonly user: string
    readonly password: Redacted.Redacted<string>
    readonly mechanism?:
      | "SCRAM-SHA-256-PLUS"
      | "SCRAM-SHA-256"
      | "SCRAM-SHA-1-PLUS"
      | "SCRAM-SHA-1"
      | "CRAM-MD5"
      | "PLAIN"
      | "LOGIN"
      | undefined
  }
  | {
    readonly user: string
    readonly accessToken: Redacted.Redacted<string>
    readonly mechanism?: "XOAUTH2" | "OAUTHBEARER" | undefined
  }

/**
 * Delivery status notification requests (RFC 3461), used when the server
 * offers DSN.
 *
 * @since 0.1.0
 * @category models
 */
export interface DsnOptions {
  /** Return the full message or only its headers in a bounce. */
  readonly ret?: "FULL" | "HDRS" | undefined
  /** The envelope identifier reported back in notifications. */
  readonly envid?: string | undefined
  /** When to notify: "NEVER", or any of "SUCCESS", "FAILURE", "DELAY". */
  readonly notify?: ReadonlyArray<"NEVER" | "SUCCESS" | "FAILURE" | "DELAY"> | undefined
  /** Report the original recipient as given (ORCPT); default true. */
  readonly orcpt?: boolean | undefined
}

/**
 * The opt-in protocol log: every command as `C: ...` and every reply as
 * `S: ...` on Effect's Logger, in the order they crossed the wire. AUTH
 * payloads are always redacted, and message bodies are summarised unless
 * `body` is set.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProtocolLogOptions {
  /** The level of each line (default "Info"). */
  readonly level?: LogLevel.Severity | undefined
  /** Log the message bodies too (default false: only their size). */
  readonly body?: boolean | undefined
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
  /** The server's 220 (default 1 minute, see `defaultTimeouts`). */
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
export const defaultTimeouts: Timeouts = timeouts.defaults

/**
 * Timeouts from `timeout` (every wait at once) and finer overrides beside it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolveTimeouts: (
  timeout?: Duration.Input | undefined,
  overrides?: { readonly [K in keyof Timeouts]?: Duration.Input | undefined } | undefined
) => Timeouts = timeouts.resolve

/**
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  readonly host: string
  readonly port: number
  /**
   * "smtp" (the default) or "lmtp" (RFC 2033: LHLO instead of EHLO, and after
   * the end of a message one reply per accepted recipient).
   */
  readonly protocol?: "smtp" | "lmtp" | undefined
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
  /**
   * Let the next message's MAIL, RCPT and DATA ride behind a body's end
   * (RFC 2920 §3.1; default true). Some servers refuse such commands since
   * the 2023 SMTP smuggling advisories: the session then sends the refused
   * message again on its own and stops grouping, and tells `onPipelineAfterDataRefused`.
   */
  readonly pipelineAfterData?: boolean | undefined
  readonly onPipelineAfterDataRefused?: (() => void) | undefined
}

/**
 * A message with its body scanned once (line breaks, 8-bit bytes, size):
 * `Session.send` takes a `Message` or an `Outgoing`. Made ahead with
 * `SmtpProtocol.outgoing`, the scan is not on the way from one message's
 * final reply to the next one's body.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outgoing<E = never> {
  readonly [internalOutgoing.TypeId]: typeof internalOutgoing.TypeId
  readonly message: Message<E>
}

/**
 * Scans a message's body once, for sending later.
 *
 * @since 0.1.0
 * @category constructors
 */
export const outgoing: <E>(message: Message<E>) => Outgoing<E> = internalOutgoing.make

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
   */
  readonly send: <E = never, E2 = never>(
    message: Message<E> | Outgoing<E>,
    options?: SendOptions<E2> | undefined
  ) => Effect.Effect<TransactionResult, SmtpError | E | E2>
  readonly rset: Effect.Effect<void, SmtpError>
  readonly noop: Effect.Effect<void, SmtpError>
  /** Says goodbye; the socket closes with the scope. */
  readonly quit: Effect.Effect<void, SmtpError>
  /**
   * Watches a session between transactions: `onGone` runs once when the
   * server closes, resets or writes to it (an idle server only speaks to say
   * goodbye, e.g. `421 idle timeout`); the session is then broken. Returns a
   * function that stops the watch, which must be called before the session
   * is used again. Absent: the transport cannot be watched.
   */
  readonly watchIdle?: ((onGone: () => void) => () => void) | undefined
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
export class SmtpProtocol
  extends Context.Service<SmtpProtocol, SmtpProtocolService>()("@effect-smtp/client/SmtpProtocol")
{
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
export const layer: Layer.Layer<SmtpProtocol, never, Socket> = Layer.effect(SmtpProtocol, protocol.make(Socket))
