/**
 * The throughput cases: every client sends the same 2 KB message to the same
 * smtp-sink. Each case is one way of sending `count` messages. effect-smtp's
 * cases run as an application runs it, the default layer with its metrics
 * and a tracer exporting its spans; the "Off" cases beside them show what
 * that telemetry costs.
 */
import type * as Effect from "effect/Effect"
import type { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import * as EffectSmtp from "./effectSmtp.js"
import * as Message from "./message.js"
import * as Nodemailer from "./peers/nodemailer.js"
import * as RawPipelining from "./peers/rawPipelining.js"
import * as SmtpSource from "./peers/smtpSource.js"
import type { SmtpSink } from "./smtpSink.js"

export const keys = [
  "raw",
  "pool1",
  "pool1Off",
  "pool2",
  "pool4",
  "pool4Off",
  "pool8",
  "session",
  "perMessage",
  "nodemailer1",
  "nodemailer4",
  "smtpSource",
  "smtpSource4"
] as const

export type Key = typeof keys[number]

export interface Case {
  readonly key: Key
  readonly client: string
  readonly connections: string
  /** A handshake per message is slow: a share of the messages keeps the run short. */
  readonly share?: number
  /** The client is another process, so this process's CPU time says nothing about it. */
  readonly external?: boolean
  readonly run: (count: number) => Effect.Effect<void, unknown, ChildProcessSpawner>
}

export interface Settings {
  readonly messageSize: number
  /** Sends kept in flight by the clients that take concurrent sends. */
  readonly inFlight: number
}

export const make = (sink: SmtpSink, settings: Settings): ReadonlyArray<Case> => {
  const message = Message.ofSize(settings.messageSize)
  const peer = { host: sink.host, port: sink.port, from: Message.from, to: Message.to }
  const effectSmtp = (connections: EffectSmtp.Connections, telemetry: EffectSmtp.Telemetry = "on") => (count: number) =>
    EffectSmtp.send({ ...peer, content: message, count, inFlight: settings.inFlight, connections, telemetry })
  const nodemailer = (maxConnections: number) => (count: number) =>
    Nodemailer.send({ ...peer, message, count, maxConnections, inFlight: settings.inFlight })
  const smtpSource = (sessions: number) => (count: number) =>
    SmtpSource.send({ ...peer, size: settings.messageSize, count, sessions })
  return [
    {
      key: "raw",
      client: "raw node:net, RFC 2920 pipelining (the ceiling)",
      connections: "1",
      run: (count) => RawPipelining.send({ ...peer, message, count })
    },
    {
      key: "pool1",
      client: "effect-smtp, pool",
      connections: "1",
      run: effectSmtp({ _tag: "Pool", maxConnections: 1 })
    },
    {
      key: "pool1Off",
      client: "effect-smtp, pool, telemetry off",
      connections: "1",
      run: effectSmtp({ _tag: "Pool", maxConnections: 1 }, "off")
    },
    {
      key: "pool2",
      client: "effect-smtp, pool",
      connections: "2",
      run: effectSmtp({ _tag: "Pool", maxConnections: 2 })
    },
    {
      key: "pool4",
      client: "effect-smtp, pool",
      connections: "4",
      run: effectSmtp({ _tag: "Pool", maxConnections: 4 })
    },
    {
      key: "pool4Off",
      client: "effect-smtp, pool, telemetry off",
      connections: "4",
      run: effectSmtp({ _tag: "Pool", maxConnections: 4 }, "off")
    },
    {
      key: "pool8",
      client: "effect-smtp, pool",
      connections: "8",
      run: effectSmtp({ _tag: "Pool", maxConnections: 8 })
    },
    {
      key: "session",
      client: "effect-smtp, one `session`, sends in sequence",
      connections: "1",
      run: effectSmtp({ _tag: "Session" })
    },
    {
      key: "perMessage",
      client: "effect-smtp, no pool: a connection per message",
      connections: `≤ ${settings.inFlight}`,
      share: 10,
      run: effectSmtp({ _tag: "PerMessage" })
    },
    { key: "nodemailer1", client: "nodemailer, `pool: true`", connections: "1", run: nodemailer(1) },
    { key: "nodemailer4", client: "nodemailer, `pool: true`", connections: "4", run: nodemailer(4) },
    { key: "smtpSource", client: "smtp-source -d", connections: "1", external: true, run: smtpSource(1) },
    { key: "smtpSource4", client: "smtp-source -d -s 4", connections: "4", external: true, run: smtpSource(4) }
  ]
}

/**
 * The clients measured one after another in one shared process, as an
 * application's process is shared: each warms up, then each is timed, the
 * pools last, after the others ran there.
 */
export const shared: ReadonlyArray<Key> = ["raw", "nodemailer1", "nodemailer4", "pool1", "pool4"]

/** One empty list per case, for results. */
export const record = (): Record<Key, Array<number>> =>
  Object.fromEntries(keys.map((key) => [key, []])) as unknown as Record<Key, Array<number>>
