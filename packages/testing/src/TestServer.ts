/**
 * The one SMTP server engine behind every fake server of effect-smtp's test
 * tooling: `TestSocket.smtpServer` and `SmtpTestKit` run it in memory,
 * `MisbehavingServer` (in `@effect-smtp/testing/node`) over TCP on loopback.
 * This module holds what both share: the server's options, its faults and
 * where they strike, and what it records.
 *
 * Without faults the engine is a small, ordinary server: EHLO/HELO, STARTTLS,
 * AUTH PLAIN / LOGIN / CRAM-MD5 / XOAUTH2 / OAUTHBEARER, PIPELINING, DATA
 * and CHUNKING (BDAT), RSET, NOOP, QUIT. A fault replaces its answer at any
 * stage of a session: it closes, resets, stalls, sends garbage, an over-long
 * line or endless continuation lines, answers any reply (421, 4xx, 5xx),
 * injects lines after its STARTTLS reply, or gives the usual answer late.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type { Fault } from "./internal/faultKinds.js"
import { randomFaults as randomFaultsImpl } from "./internal/randomFaults.js"

/**
 * Where in a session a fault strikes:
 * - `greeting`: instead of the 220 greeting;
 * - `ehlo`: the reply to EHLO (or HELO);
 * - `starttls`: the reply to STARTTLS;
 * - `auth`: the reply to AUTH;
 * - `mail`, `rcpt`: the reply to MAIL FROM, to each RCPT TO;
 * - `data`: the reply to DATA (the "354" of DATA initiation);
 * - `body`: mid-body, after the first line of a DATA body or half of the
 *   first BDAT chunk was received (a `Delay`: before the body is read);
 * - `end`: the reply after the final dot (or after BDAT LAST);
 * - `quit`: the reply to QUIT.
 *
 * @since 0.1.0
 * @category models
 */
export type Stage = "greeting" | "ehlo" | "starttls" | "auth" | "mail" | "rcpt" | "data" | "body" | "end" | "quit"

/**
 * Every stage, in session order.
 *
 * @since 0.1.0
 * @category constants
 */
export const stages: ReadonlyArray<Stage> = [
  "greeting",
  "ehlo",
  "starttls",
  "auth",
  "mail",
  "rcpt",
  "data",
  "body",
  "end",
  "quit"
]

/**
 * The faults, one model per kind: `Close` (FIN), `Reset` (RST), `Stall`,
 * `Garbage`, `LongLine`, `EndlessContinuation`, `Reply`, `StartTlsInjection`
 * and `Delay`; each is documented where it is defined.
 *
 * @since 0.1.0
 * @category models
 */
export type {
  Close,
  Delay,
  EndlessContinuation,
  Fault,
  Garbage,
  LongLine,
  Reply,
  Reset,
  Stall,
  StartTlsInjection
} from "./internal/faultKinds.js"

/**
 * The faults' constructors: `close`, `reset`, `stall`, `garbage`, `longLine`,
 * `endlessContinuation`, `reply` and its shorthands `serviceClosing` (421,
 * then close), `transient` (4xx) and `permanent` (5xx), `startTlsInjection`
 * and `delay`.
 *
 * @since 0.1.0
 * @category constructors
 */
export {
  close,
  delay,
  endlessContinuation,
  garbage,
  longLine,
  permanent,
  reply,
  reset,
  serviceClosing,
  stall,
  startTlsInjection,
  transient
} from "./internal/faultKinds.js"

/**
 * What a fault decision is told.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultContext {
  /** 1 for the first connection the server accepted, 2 for the next, ... */
  readonly connection: number
  readonly stage: Stage
  /** The command line that reached the stage ("" for the greeting). */
  readonly command: string
  /** Whether the connection is TLS (implicit, or after STARTTLS). */
  readonly tls: boolean
}

/**
 * Which fault strikes where: a fault per stage (applied every time the stage
 * is reached, on every connection), or a function deciding per connection
 * and command (`undefined`: behave).
 *
 * @since 0.1.0
 * @category models
 */
export type FaultPlan = { readonly [S in Stage]?: Fault | undefined } | ((context: FaultContext) => Fault | undefined)

/**
 * A fault plan for load tests: on each connection, independently and
 * reproducibly from `seed` and the connection number, MAIL, each RCPT and
 * DATA are answered 4xx with probability `transient` and 5xx with
 * probability `permanent`, and with probability `drop` the connection is
 * closed or reset at a random stage before the end of its message (never
 * after the final dot, so a message the server stored is one the client
 * was told about).
 *
 * @since 0.1.0
 * @category constructors
 */
export const randomFaults: (options: {
  readonly seed: number
  readonly transient?: number | undefined
  readonly permanent?: number | undefined
  readonly drop?: number | undefined
}) => (context: FaultContext) => Fault | undefined = randomFaultsImpl

/**
 * A SASL mechanism the server knows.
 *
 * @since 0.1.0
 * @category models
 */
export type Mechanism = "PLAIN" | "LOGIN" | "CRAM-MD5" | "XOAUTH2" | "OAUTHBEARER"

/**
 * AUTH the server accepts. A password is checked by PLAIN, LOGIN and
 * CRAM-MD5, an access token by XOAUTH2 and OAUTHBEARER.
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthOptions {
  readonly user: string
  readonly password?: string | undefined
  readonly accessToken?: string | undefined
  /**
   * The mechanisms offered in the EHLO reply (default: PLAIN and LOGIN with a
   * password, OAUTHBEARER and XOAUTH2 with an access token).
   */
  readonly mechanisms?: ReadonlyArray<Mechanism> | undefined
  /** MAIL is refused with 530 until AUTH succeeded (default true). */
  readonly required?: boolean | undefined
}

/**
 * Bounds that keep the server itself finite, whatever a client or a fault does.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  /** The longest command line read (default 64 KiB); longer: 500 and close. */
  readonly maxLineBytes?: number | undefined
  /** Commands per connection (default 100,000); then 421 and close. */
  readonly maxCommands?: number | undefined
  /** Lines of an `EndlessContinuation` (default 100,000). */
  readonly maxContinuationLines?: number | undefined
  /** Body bytes kept per message (default 1 MiB; the rest is read and dropped). */
  readonly maxStoredBytes?: number | undefined
}

/**
 * How the server behaves, wherever it runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly faults?: FaultPlan | undefined
  /** The name in the greeting and the EHLO reply (default `test.invalid`). */
  readonly hostname?: string | undefined
  /** Default `220 <hostname> ESMTP ready`. */
  readonly greeting?: string | undefined
  /**
   * The EHLO keywords, exactly (STARTTLS is left out once TLS is on). Without
   * it they follow from `pipelining`, `chunking`, TLS, `auth` and
   * `extensions`, after `8BITMIME` and `ENHANCEDSTATUSCODES`.
   */
  readonly capabilities?: ReadonlyArray<string> | undefined
  /** Offer PIPELINING (default true). */
  readonly pipelining?: boolean | undefined
  /** Offer CHUNKING, so clients send BDAT (default false). */
  readonly chunking?: boolean | undefined
  /** Further EHLO keywords, e.g. `SMTPUTF8`, `SIZE 1000`. */
  readonly extensions?: ReadonlyArray<string> | undefined
  /**
   * Hide STARTTLS from the EHLO reply (as a downgrade attacker rewrites it to
   * `XXXXXXXA`) while still accepting it: EAST case D_1.
   */
  readonly hideStartTls?: boolean | undefined
  readonly auth?: AuthOptions | undefined
  /** A wait before every reply, on the clock the server runs on (default none). */
  readonly replyDelay?: Duration.Input | undefined
  /**
   * How long the server waits for the next command (on the clock it runs
   * on) before it answers `421 4.4.2 ... timeout exceeded` and closes the
   * connection, as Postfix's `smtpd_timeout` does (default: forever).
   */
  readonly idleTimeout?: Duration.Input | undefined
  readonly limits?: Limits | undefined
  /**
   * Refuse commands that arrive behind a body's end (RFC 2920 §3.1 allows
   * them; some servers refuse them since the 2023 SMTP smuggling advisories):
   * each is answered `503 5.5.1 Bad sequence of commands - pipelined after
   * end of DATA`, and the message itself is stored (default false).
   */
  readonly refusePipelinedAfterData?: boolean | undefined
}

/**
 * A message the server accepted (it answered 250 to its end).
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedMessage {
  readonly connection: number
  readonly from: string
  readonly to: ReadonlyArray<string>
  /** The body as stored: dot-stuffing undone, terminator removed; at most `maxStoredBytes`. */
  readonly data: Uint8Array
  readonly via: "DATA" | "BDAT"
  readonly tls: boolean
  /** The user that authenticated on the connection, if any. */
  readonly user: string | undefined
}

/**
 * One connection the server accepted.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionRecord {
  readonly id: number
  /**
   * Every command line received, in order, as sent (AUTH with its initial
   * response: this is a test server); the lines of a SASL exchange are not
   * commands and are left out.
   */
  readonly commands: ReadonlyArray<string>
  /** The stages where a fault struck. */
  readonly faults: ReadonlyArray<Stage>
  readonly tls: boolean
  readonly open: boolean
  /** Message bodies whose end arrived with the next command already behind it (RFC 2920 §3.1). */
  readonly pipelinedAfterBody: number
  /** Commands refused for arriving behind a body's end (`refusePipelinedAfterData`). */
  readonly refusedAfterData: number
}
