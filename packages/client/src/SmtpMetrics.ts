/**
 * Telemetry events of effect-smtp, one method per event that MailKit's
 * documented metrics record. The Socket and the client call these with the
 * facts and the outcome; a backend turns them into instruments.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { SmtpError } from "./SmtpError.js"

/**
 * How an operation ended: success, a typed failure, or interruption.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome =
  | { readonly _tag: "Success" }
  | { readonly _tag: "Failure"; readonly error: SmtpError }
  | { readonly _tag: "Interrupted" }

/**
 * One TCP connect attempt to one resolved IP (`mailkit.net.socket.connect.*`).
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketConnectEvent {
  readonly serverAddress: string
  readonly serverPort: number
  readonly peerAddress: string
  readonly outcome: Outcome
  readonly durationMs: number
}

/**
 * Facts common to the client instruments (`mailkit.net.smtp.client.*`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientFacts {
  readonly serverAddress: string
  readonly serverPort: number
  /** Absent when no connection was made. */
  readonly peerAddress?: string | undefined
  readonly scheme: "smtp" | "smtps"
}

/**
 * A client connect: DNS, TCP, TLS, greeting, EHLO, STARTTLS, EHLO.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientConnectEvent extends ClientFacts {
  readonly outcome: Outcome
  readonly durationMs: number
}

/**
 * The end of an established session. Success: closed on purpose (QUIT, scope
 * close); Failure: ended involuntarily.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionEndEvent extends ClientFacts {
  readonly outcome: Outcome
  readonly durationSeconds: number
}

/**
 * One message, from MAIL FROM to the final reply to DATA / BDAT.
 *
 * @since 0.1.0
 * @category models
 */
export interface MessageSendEvent extends ClientFacts {
  readonly outcome: Outcome
  readonly durationMs: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SmtpMetricsService {
  readonly socketConnect: (event: SocketConnectEvent) => Effect.Effect<void>
  readonly clientConnect: (event: ClientConnectEvent) => Effect.Effect<void>
  readonly connectionEnd: (event: ConnectionEndEvent) => Effect.Effect<void>
  readonly messageSend: (event: MessageSendEvent) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class SmtpMetrics extends Context.Tag("@effect-smtp/client/SmtpMetrics")<SmtpMetrics, SmtpMetricsService>() {
  /**
   * Records nothing.
   *
   * @since 0.1.0
   * @category layers
   */
  static get layerNoop(): Layer.Layer<SmtpMetrics> {
    return layerNoop
  }
}

/**
 * Records nothing.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNoop: Layer.Layer<SmtpMetrics> = Layer.succeed(SmtpMetrics, {
  socketConnect: () => Effect.void,
  clientConnect: () => Effect.void,
  connectionEnd: () => Effect.void,
  messageSend: () => Effect.void
})
