/**
 * effect-smtp under load: `count` sends of one message, `inFlight` at a time,
 * through one of three ways of holding connections, with telemetry on or off.
 */
import { SmtpClient, type SmtpError, SmtpMetrics } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Stream from "effect/Stream"
import * as spans from "./spans.js"

export type Connections =
  /** `options.pool`: concurrent sends share (and pipeline on) these connections. */
  | { readonly _tag: "Pool"; readonly maxConnections: number }
  /** One `client.session`, one send after another: no message overlaps the next. */
  | { readonly _tag: "Session" }
  /** No pool: every send connects, says EHLO, sends and QUITs. */
  | { readonly _tag: "PerMessage" }

/**
 * "On", what an application runs: the default `NodeSmtp.layer(options)` (the
 * documented metrics on Effect's `Metric`) and a tracer that exports every
 * span (to memory). "Off": the no-op metrics backend and Effect's tracer
 * disabled.
 */
export type Telemetry = "on" | "off"

export interface Options {
  readonly host: string
  readonly port: number
  readonly from: string
  readonly to: string
  readonly content: string | Uint8Array | Stream.Stream<Uint8Array>
  readonly size?: number | undefined
  readonly count: number
  readonly inFlight: number
  readonly connections: Connections
  readonly telemetry: Telemetry
}

const clientOptions = (options: Options): SmtpClient.Options => {
  const base = {
    host: options.host,
    port: options.port,
    security: "none",
    timeout: "30 seconds"
  } as const
  return options.connections._tag === "Pool"
    // Like nodemailer's `maxMessages: Infinity` in the peer: no reconnects mid-run.
    ? { ...base, pool: { maxConnections: options.connections.maxConnections, maxMessagesPerConnection: Infinity } }
    : base
}

const withTelemetry = (options: Options) => {
  const client = options.telemetry === "on"
    ? NodeSmtp.layer(clientOptions(options))
    : NodeSmtp.layerWithMetrics(clientOptions(options)).pipe(Layer.provide(SmtpMetrics.layerNoop))
  return <A, E>(self: Effect.Effect<A, E, SmtpClient>): Effect.Effect<A, E> =>
    options.telemetry === "on"
      ? Effect.flatMap(spans.memoryExporter, (exporter) =>
        self.pipe(Effect.provide(client), Effect.withTracer(exporter.tracer), Effect.withTracerEnabled(true)))
      : self.pipe(Effect.provide(client), Effect.withTracerEnabled(false))
}

/** Sends `count` messages; fails with the first error. */
export const send = (options: Options): Effect.Effect<void, SmtpError.SmtpError> => {
  const mail: SmtpClient.Mail = {
    from: options.from,
    to: [options.to],
    content: options.content,
    size: options.size
  }
  const indices = Array.from({ length: options.count }, (_, i) => i)
  const program = Effect.gen(function*() {
    const client = yield* SmtpClient
    if (options.connections._tag === "Session") {
      const session = yield* client.session
      yield* Effect.forEach(indices, () => session.send(mail), { discard: true })
    } else {
      yield* Effect.forEach(indices, () => client.send(mail), { concurrency: options.inFlight, discard: true })
    }
  }).pipe(Effect.scoped)
  return withTelemetry(options)(program)
}
