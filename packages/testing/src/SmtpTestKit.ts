/**
 * For an application's own tests: an `SmtpClient` that delivers into memory
 * through the real protocol (so bad input fails exactly as in production),
 * and a `SentMail` service to assert on what was sent. No network; it runs
 * under `TestClock`.
 *
 * @since 0.1.0
 */
import { SmtpClient } from "@effect-smtp/client/SmtpClient"
import {
  type AuthenticateEvent,
  type ClientConnectEvent,
  type ConnectionEndEvent,
  type MessageSendEvent,
  SmtpMetrics,
  type SmtpMetricsService,
  type SocketConnectEvent
} from "@effect-smtp/client/SmtpMetrics"
import { SmtpProtocol } from "@effect-smtp/client/SmtpProtocol"
import type * as SmtpTelemetry from "@effect-smtp/client/SmtpTelemetry"
import * as SmtpTelemetryProfile from "@effect-smtp/client/SmtpTelemetryProfile"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestSocket from "./TestSocket.js"

const decoder = new TextDecoder()

/**
 * One message as the server stored it.
 *
 * @since 0.1.0
 * @category models
 */
export interface CapturedMail {
  readonly from: string
  readonly to: ReadonlyArray<string>
  /** The message as stored: CRLF line ends, dot-stuffing undone. */
  readonly data: Uint8Array
  /** `data` as UTF-8 text. */
  readonly text: string
  /** The first header of that name (case-insensitive), unfolded; encoded-words are left as sent. */
  readonly header: (name: string) => Option.Option<string>
  /** Everything after the blank line that ends the headers. */
  readonly body: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SentMailService {
  readonly all: Effect.Effect<ReadonlyArray<CapturedMail>>
  readonly last: Effect.Effect<Option.Option<CapturedMail>>
  /** Messages whose envelope includes `address`. */
  readonly to: (address: string) => Effect.Effect<ReadonlyArray<CapturedMail>>
  /** The commands the server received, e.g. to check AUTH or pipelining. */
  readonly commands: Effect.Effect<ReadonlyArray<string>>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class SentMail extends Context.Service<SentMail, SentMailService>()("@effect-smtp/testing/SentMail") {}

const capture = (message: TestSocket.ReceivedMessage): CapturedMail => {
  const text = decoder.decode(message.data)
  const end = text.indexOf("\r\n\r\n")
  const head = end === -1 ? text : text.slice(0, end)
  const headers = head.replace(/\r\n[ \t]+/g, " ").split("\r\n")
  return {
    from: message.from,
    to: message.to,
    data: message.data,
    text,
    body: end === -1 ? "" : text.slice(end + 4),
    header: (name) => {
      const prefix = `${name.toLowerCase()}:`
      const line = headers.find((h) => h.toLowerCase().startsWith(prefix))
      return line === undefined ? Option.none() : Option.some(line.slice(prefix.length).trim())
    }
  }
}

/**
 * An `SmtpClient` delivering into memory, and `SentMail` to read what it got.
 * `server` shapes the test server (capabilities, refused recipients,
 * accepted credentials, faults).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: {
    readonly server?: TestSocket.SmtpServerConfig | undefined
    readonly client?: Partial<SmtpClient.Options> | undefined
  } = {}
): Layer.Layer<SmtpClient | SentMail> =>
  Layer.unwrap(Effect.sync(() => {
    const server = TestSocket.smtpServer(options.server)
    const sentMail: SentMailService = {
      all: Effect.sync(() => server.received.map(capture)),
      last: Effect.sync(() => Option.map(Option.fromUndefinedOr(server.received.at(-1)), capture)),
      to: (address) => Effect.sync(() => server.received.filter((m) => m.to.includes(address)).map(capture)),
      commands: Effect.sync(() => [...server.commands])
    }
    const client = SmtpClient.layer({ host: "smtp.test.invalid", port: 25, security: "none", ...options.client }).pipe(
      Layer.provide(SmtpProtocol.layer),
      Layer.provide(TestSocket.layer(server.script)),
      Layer.provide(SmtpMetrics.layerNoop)
    )
    return Layer.merge(client, Layer.succeed(SentMail, sentMail))
  }))

/**
 * One event a `MetricsRecorder` was told about.
 *
 * @since 0.1.0
 * @category models
 */
export type RecordedEvent =
  | { readonly _tag: "socketConnect"; readonly event: SocketConnectEvent }
  | { readonly _tag: "clientConnect"; readonly event: ClientConnectEvent }
  | { readonly _tag: "authenticate"; readonly event: AuthenticateEvent }
  | { readonly _tag: "connectionEnd"; readonly event: ConnectionEndEvent }
  | { readonly _tag: "messageSend"; readonly event: MessageSendEvent }

/**
 * @since 0.1.0
 * @category models
 */
export interface MetricsRecorder {
  /** A `SmtpMetrics` that only remembers. */
  readonly layer: Layer.Layer<SmtpMetrics>
  /** Every event, in order. */
  readonly events: ReadonlyArray<RecordedEvent>
  readonly tags: () => ReadonlyArray<RecordedEvent["_tag"]>
  readonly socketConnect: () => ReadonlyArray<SocketConnectEvent>
  readonly clientConnect: () => ReadonlyArray<ClientConnectEvent>
  readonly authenticate: () => ReadonlyArray<AuthenticateEvent>
  readonly connectionEnd: () => ReadonlyArray<ConnectionEndEvent>
  readonly messageSend: () => ReadonlyArray<MessageSendEvent>
  /**
   * The attributes of every event a profile records (the documented one by
   * default, which records nothing for `authenticate`), as a backend would
   * export them.
   */
  readonly attributes: (profile?: SmtpTelemetryProfile.Name) => ReadonlyArray<SmtpTelemetry.Attributes>
  readonly clear: () => void
}

/**
 * A metrics backend for tests: it records every event with its outcome and
 * duration, so a test can assert what would have been exported.
 *
 * @since 0.1.0
 * @category constructors
 */
export const metricsRecorder = (): MetricsRecorder => {
  const events: Array<RecordedEvent> = []
  const record = (entry: RecordedEvent) =>
    Effect.sync(() => {
      events.push(entry)
    })
  const service: SmtpMetricsService = {
    socketConnect: (event) => record({ _tag: "socketConnect", event }),
    clientConnect: (event) => record({ _tag: "clientConnect", event }),
    authenticate: (event) => record({ _tag: "authenticate", event }),
    connectionEnd: (event) => record({ _tag: "connectionEnd", event }),
    messageSend: (event) => record({ _tag: "messageSend", event })
  }
  return {
    layer: Layer.succeed(SmtpMetrics, service),
    events,
    tags: () => events.map((r) => r._tag),
    socketConnect: () => events.flatMap((r) => r._tag === "socketConnect" ? [r.event] : []),
    clientConnect: () => events.flatMap((r) => r._tag === "clientConnect" ? [r.event] : []),
    authenticate: () => events.flatMap((r) => r._tag === "authenticate" ? [r.event] : []),
    connectionEnd: () => events.flatMap((r) => r._tag === "connectionEnd" ? [r.event] : []),
    messageSend: () => events.flatMap((r) => r._tag === "messageSend" ? [r.event] : []),
    attributes: (name = "documented") => {
      const profile = SmtpTelemetryProfile.of(name)
      return events.flatMap((r): ReadonlyArray<SmtpTelemetry.Attributes> => {
        switch (r._tag) {
          case "socketConnect":
            return [profile.attributes({ _tag: "SocketConnect", ...r.event })]
          case "clientConnect":
            return [profile.attributes({ _tag: "Operation", operation: "connect", ...r.event })]
          case "authenticate":
            return profile.operations.authenticate === undefined
              ? []
              : [profile.attributes({ _tag: "Operation", operation: "authenticate", ...r.event })]
          case "messageSend":
            return [profile.attributes({ _tag: "Operation", operation: "send", ...r.event })]
          case "connectionEnd":
            return [profile.attributes({ _tag: "ConnectionEnd", ...r.event })]
        }
      })
    },
    clear: () => {
      events.length = 0
    }
  }
}
