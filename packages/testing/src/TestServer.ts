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
import * as Duration from "effect/Duration"
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
 * Ends the connection gracefully (FIN): the client reads end-of-stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface Close {
  readonly _tag: "Close"
}

/**
 * Aborts the connection (RST): the client's next read or write fails with
 * ECONNRESET.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reset {
  readonly _tag: "Reset"
}

/**
 * Never answers again and never closes: only the client's own timeout (or its
 * closing the connection) ends the session.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stall {
  readonly _tag: "Stall"
}

/**
 * Sends bytes that are no SMTP reply, then stalls.
 *
 * @since 0.1.0
 * @category models
 */
export interface Garbage {
  readonly _tag: "Garbage"
  readonly bytes: Uint8Array
}

/**
 * Sends one reply line of `length` octets (plus CRLF), then stalls.
 *
 * @since 0.1.0
 * @category models
 */
export interface LongLine {
  readonly _tag: "LongLine"
  readonly length: number
}

/**
 * Sends `<code>-` continuation lines that never end (up to the server's
 * `maxContinuationLines`, or until the client closes), then stalls.
 *
 * @since 0.1.0
 * @category models
 */
export interface EndlessContinuation {
  readonly _tag: "EndlessContinuation"
  readonly code: number
}

/**
 * Answers with `text` (one or more lines, CRLF added when missing) instead of
 * the usual reply. With `close` the server then closes the connection, as a
 * real server does after 421; otherwise it goes on with the session.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reply {
  readonly _tag: "Reply"
  readonly text: string
  readonly close: boolean
}

/**
 * Only at the `starttls` stage: answers STARTTLS with its 220 followed by
 * further plaintext lines before any handshake (the response-injection
 * attack, EAST case B_1), then waits for the client to close.
 *
 * @since 0.1.0
 * @category models
 */
export interface StartTlsInjection {
  readonly _tag: "StartTlsInjection"
  readonly injected: string
  /** Send the injected lines in a second write, right after the 220 (default: one write). */
  readonly split: boolean
}

/**
 * A slow server: waits `duration` on the clock the server runs on, then goes
 * on as if no fault had struck (the usual answer, late). At `end` the message
 * is stored when the late 250 is sent, whether or not the client is still
 * there to read it, as a real server that queued it would have. At `body`,
 * where no answer is due, the server pauses before it reads the message, so
 * the client's writes back up.
 *
 * @since 0.1.0
 * @category models
 */
export interface Delay {
  readonly _tag: "Delay"
  readonly duration: Duration.Duration
}

/**
 * @since 0.1.0
 * @category models
 */
export type Fault =
  | Close
  | Reset
  | Stall
  | Garbage
  | LongLine
  | EndlessContinuation
  | Reply
  | StartTlsInjection
  | Delay

/**
 * @since 0.1.0
 * @category constructors
 */
export const close: Fault = { _tag: "Close" }

/**
 * @since 0.1.0
 * @category constructors
 */
export const reset: Fault = { _tag: "Reset" }

/**
 * @since 0.1.0
 * @category constructors
 */
export const stall: Fault = { _tag: "Stall" }

/**
 * Garbage; by default NUL, 8-bit bytes and HTML, no digits in front.
 *
 * @since 0.1.0
 * @category constructors
 */
export const garbage = (bytes?: string | Uint8Array): Fault => ({
  _tag: "Garbage",
  bytes: bytes === undefined
    ? Uint8Array.from([0x00, 0xff, 0xfe, ...new TextEncoder().encode("<html>not smtp</html>\r\n")])
    : typeof bytes === "string"
    ? new TextEncoder().encode(bytes)
    : bytes
})

/**
 * An over-long reply line; by default 64 KiB, far past RFC 5321's 512 octets.
 *
 * @since 0.1.0
 * @category constructors
 */
export const longLine = (length = 64 * 1024): Fault => ({ _tag: "LongLine", length })

/**
 * @since 0.1.0
 * @category constructors
 */
export const endlessContinuation = (code = 250): Fault => ({ _tag: "EndlessContinuation", code })

/**
 * @since 0.1.0
 * @category constructors
 */
export const reply = (text: string, options?: { readonly close?: boolean | undefined }): Fault => ({
  _tag: "Reply",
  text,
  close: options?.close ?? false
})

/**
 * 421: the server is shutting the channel down, and does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serviceClosing = (text = "421 4.3.2 test.invalid closing the channel"): Fault =>
  reply(text, { close: true })

/**
 * A 4xx reply (default 451), after which the session goes on.
 *
 * @since 0.1.0
 * @category constructors
 */
export const transient = (text = "451 4.3.0 temporary failure, try again later"): Fault => reply(text)

/**
 * A 5xx reply (default 554), after which the session goes on.
 *
 * @since 0.1.0
 * @category constructors
 */
export const permanent = (text = "554 5.3.0 permanent failure"): Fault => reply(text)

/**
 * The STARTTLS response injection; by default a whole forged EHLO reply.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startTlsInjection = (
  injected = "250-injected.invalid\r\n250-AUTH PLAIN LOGIN\r\n250 PIPELINING\r\n",
  options?: { readonly split?: boolean | undefined }
): Fault => ({ _tag: "StartTlsInjection", injected, split: options?.split ?? false })

/**
 * The usual answer, `duration` late (see `Delay`): a slow server at one
 * stage, where `replyDelay` slows every reply.
 *
 * @since 0.1.0
 * @category constructors
 */
export const delay = (duration: Duration.Input): Fault => ({
  _tag: "Delay",
  duration: Duration.fromInputUnsafe(duration)
})

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
