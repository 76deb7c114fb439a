import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { DsnOptions, Outgoing } from "../SmtpProtocol.js"

/**
 * The message a transaction sends and what it gives back: the envelope, the
 * message, where its delivery stands, the options of one send, and the
 * result of a transaction the server accepted. Re-exported by `SmtpProtocol`.
 */

/**
 * The SMTP envelope: the sender (MAIL FROM; empty for the null reverse-path
 * of a bounce) and the recipients (RCPT TO).
 *
 * @since 0.1.0
 * @category models
 */
export interface Envelope {
  readonly from: string
  readonly to: ReadonlyArray<string>
}

/**
 * One message: its envelope, its content and how to send it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Message<E = never> extends Envelope {
  /**
   * The RFC 5322 message, headers and body. A NUL octet is refused, and so
   * is an 8-bit octet when the server does not offer 8BITMIME (encode the
   * body); a stream is cut where it first holds one, or passes the server's
   * SIZE, without the end of the message.
   */
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
  /**
   * Send lines longer than 998 octets as they are. By default such a message
   * fails with `InvalidInputError` before any byte is written (RFC 5322
   * §2.1.1): servers fold such lines (breaking signatures) or refuse the
   * message. Encode the body instead (quoted-printable or base64, as
   * `@effect-smtp/message` does).
   */
  readonly allowLongLines?: boolean | undefined
  /**
   * REQUIRETLS (RFC 8689): the message may only travel over TLS, on this hop
   * and every later one. Sent only over an encrypted session whose
   * certificate was verified (§4.2.1: not with `rejectUnauthorized: false`
   * letting an untrusted or misnamed certificate through) to a server that
   * offers the extension; otherwise a `TlsError` before any command of the
   * transaction. Off by default, and then nothing is added.
   */
  readonly requireTls?: boolean | undefined
}

/**
 * Where one message stands. The transaction updates it as it goes; a caller
 * that may cut the send short (a deadline) reads it to tell "not sent" from
 * "delivery unknown".
 *
 * @since 0.1.0
 * @category models
 */
export interface DeliveryProgress {
  /** The end of the message (the final dot, or BDAT LAST) was handed to the transport. */
  endWritten: boolean
  /** The reply to the end of the message was read (or the transaction ended without one). */
  replied: boolean
  /**
   * The body was about to go out (after the envelope's replies): from here
   * the same message cannot be sent again without risking a copy. Absent:
   * not yet.
   */
  bodyStarted?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SendOptions<E2 = never> {
  /**
   * The message to be sent next on this session: with PIPELINING its MAIL,
   * RCPT and DATA go out in the same write as this body's end (RFC 2920
   * §3.1), so it must be the next one sent.
   */
  readonly pipelineNext?: Message<unknown> | Outgoing<unknown> | undefined
  /** Updated as the message goes out (see `DeliveryProgress`). */
  readonly progress?: DeliveryProgress | undefined
  /**
   * Runs once, just before the first write that carries the end of the
   * message (the final dot, or BDAT LAST; before a body sent in one write).
   * If it fails, the end is never written, the session is closed without it
   * (the server discards the partial message), and the send fails with its
   * error. A durable outbox records here that delivery may happen.
   */
  readonly beforeEndOfData?: Effect.Effect<void, E2> | undefined
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
  /**
   * LMTP only (RFC 2033): each accepted recipient's reply after the end of
   * the message, in order. `accepted` and `rejected` already count them.
   */
  readonly deliveries?: ReadonlyArray<RecipientResult> | undefined
  /** Bytes of body sent, after normalisation and dot-stuffing. */
  readonly bytesSent: number
  /** The server's queue ID, when its final reply carries one (`queued as 4XyZ`, `id=...`). */
  readonly queueId?: string | undefined
  /** Milliseconds (Effect's Clock) for MAIL..DATA's 354 and for the body up to the final reply. */
  readonly timings: { readonly envelopeMs: number; readonly dataMs: number }
}
