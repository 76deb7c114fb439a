import type * as Clock from "effect/Clock"
import type * as SmtpProtocol from "../SmtpProtocol.js"
import type { PeerVerification } from "../Socket.js"
import type { Capabilities } from "./capabilities.js"
import type { Prepared, Waits } from "./envelope.js"
import type { Reply } from "./reply.js"
import type { Wire } from "./wire.js"

/**
 * One open SMTP session, all of its state in one record: the wire (bytes,
 * replies, whether it is in step), what the server said when it opened, and
 * the two things a transaction leaves for the next one.
 *
 * @internal
 */
export interface SessionState {
  readonly wire: Wire
  readonly host: string
  readonly port: number
  readonly timeouts: SmtpProtocol.Timeouts
  /** The transaction's waits, made from `timeouts` once. */
  readonly waits: Waits
  /** Effect's Clock, for the result's timings (TestClock in tests). */
  readonly clock: Clock.Clock
  readonly greeting: Reply
  /** What the server offers (after STARTTLS: what it offered then). */
  readonly capabilities: Capabilities
  /** LMTP (RFC 2033): after the end of a message, one reply per accepted recipient. */
  readonly lmtp: boolean
  /** The session is encrypted (implicit TLS or STARTTLS): what REQUIRETLS asks. */
  readonly encrypted: boolean
  /** The TLS peer's certificate check, when encrypted; `undefined`: unknown (unverified). */
  readonly peerVerification: PeerVerification | undefined
  /**
   * The next message's MAIL, RCPT and DATA, written behind the last body's
   * end (RFC 2920 §3.1); their replies are read when that message is sent,
   * and nothing else may be sent before it.
   */
  ahead: Prepared<unknown> | undefined
  /** Whether the next message's commands may ride behind a body's end: off once the server refused them. */
  pipelineAfterData: boolean
  readonly onPipelineAfterDataRefused: (() => void) | undefined
  /** The message in flight: whether its end was written, and its reply read. */
  current: SmtpProtocol.DeliveryProgress | undefined
}
