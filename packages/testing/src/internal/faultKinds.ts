/**
 * What a fault can be, one interface per kind, and their constructors;
 * `TestServer` re-exports them.
 */
import * as Duration from "effect/Duration"

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
