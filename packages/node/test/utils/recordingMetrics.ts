/**
 * A `SmtpMetrics` backend that only remembers what it was told, and the
 * documented attributes of each event (computed with `SmtpTelemetry`, as
 * every real backend does).
 */
import { SmtpMetrics, SmtpTelemetry } from "@effect-smtp/client"
import type {
  ClientConnectEvent,
  ConnectionEndEvent,
  MessageSendEvent,
  SmtpMetricsService,
  SocketConnectEvent
} from "@effect-smtp/client/SmtpMetrics"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

export type Recorded =
  | { readonly _tag: "socketConnect"; readonly event: SocketConnectEvent }
  | { readonly _tag: "clientConnect"; readonly event: ClientConnectEvent }
  | { readonly _tag: "connectionEnd"; readonly event: ConnectionEndEvent }
  | { readonly _tag: "messageSend"; readonly event: MessageSendEvent }

export interface Recorder {
  readonly layer: Layer.Layer<SmtpMetrics>
  readonly events: ReadonlyArray<Recorded>
  readonly socketConnect: () => ReadonlyArray<SocketConnectEvent>
  readonly clientConnect: () => ReadonlyArray<ClientConnectEvent>
  readonly connectionEnd: () => ReadonlyArray<ConnectionEndEvent>
  readonly messageSend: () => ReadonlyArray<MessageSendEvent>
  /** The attributes every event was recorded with, as a backend would export them. */
  readonly attributes: () => ReadonlyArray<SmtpTelemetry.Attributes>
  readonly clear: () => void
}

export const recorder = (): Recorder => {
  const events: Array<Recorded> = []
  const service: SmtpMetricsService = {
    socketConnect: (event) => Effect.sync(() => void events.push({ _tag: "socketConnect", event })),
    clientConnect: (event) => Effect.sync(() => void events.push({ _tag: "clientConnect", event })),
    connectionEnd: (event) => Effect.sync(() => void events.push({ _tag: "connectionEnd", event })),
    messageSend: (event) => Effect.sync(() => void events.push({ _tag: "messageSend", event }))
  }
  return {
    layer: Layer.succeed(SmtpMetrics, service),
    events,
    socketConnect: () => events.flatMap((r) => r._tag === "socketConnect" ? [r.event] : []),
    clientConnect: () => events.flatMap((r) => r._tag === "clientConnect" ? [r.event] : []),
    connectionEnd: () => events.flatMap((r) => r._tag === "connectionEnd" ? [r.event] : []),
    messageSend: () => events.flatMap((r) => r._tag === "messageSend" ? [r.event] : []),
    attributes: () =>
      events.map((r) =>
        r._tag === "socketConnect"
          ? SmtpTelemetry.socketConnectAttributes(r.event)
          : SmtpTelemetry.clientAttributes(r.event)
      ),
    clear: () => {
      events.length = 0
    }
  }
}

/** Node's count of open TCP handles in this process (client and server sides alike). */
export const openTcpHandles = (): number =>
  process.getActiveResourcesInfo().filter((name) => name === "TCPSocketWrap").length
