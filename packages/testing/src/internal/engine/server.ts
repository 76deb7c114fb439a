/**
 * The server: its options, the record of every connection and message, and
 * the faults' plan. Each connection runs a `Session` on a link of its own.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { ConnectionRecord, Fault, Options, ReceivedMessage, Stage } from "../../TestServer.js"
import { type Next, strike } from "./faults.js"
import type { ClientLink } from "./link.js"
import { type ResolvedLimits, resolveLimits, type SessionHandle, type SessionRecord } from "./record.js"
import { Session, type SessionHost } from "./session.js"

/**
 * A class because every session reports into the same records, which the
 * tests read and watch; each member is short.
 *
 * @internal
 */
export class Server implements SessionHost {
  private readonly records: Array<SessionRecord> = []
  private readonly allCommands: Array<string> = []
  private readonly received: Array<ReceivedMessage> = []
  private readonly watchers = new Set<() => void>()
  readonly limits: ResolvedLimits
  private readonly delay: Duration.Duration | undefined
  readonly idle: Duration.Duration | undefined
  readonly hostname: string
  private queued = 0

  /** `offerStartTls`: whether the computed EHLO reply offers STARTTLS before TLS is on. */
  constructor(readonly options: Options, readonly offerStartTls: boolean) {
    this.limits = resolveLimits(options.limits)
    this.delay = options.replyDelay === undefined ? undefined : Duration.fromInputUnsafe(options.replyDelay)
    this.idle = options.idleTimeout === undefined ? undefined : Duration.fromInputUnsafe(options.idleTimeout)
    this.hostname = options.hostname ?? "test.invalid"
  }

  // --- what the server saw ---------------------------------------------------

  /** Calls `watcher` after every change of a connection or a fault; returns its removal. */
  watch(watcher: () => void): () => void {
    this.watchers.add(watcher)
    return () => this.watchers.delete(watcher)
  }

  changed(): void {
    for (const watcher of [...this.watchers]) watcher()
  }

  get accepted(): number {
    return this.records.length
  }

  get open(): number {
    return this.records.reduce((n, r) => (r.open ? n + 1 : n), 0)
  }

  get connections(): ReadonlyArray<ConnectionRecord> {
    return this.records.map((r) => ({
      id: r.id,
      commands: [...r.commands],
      faults: [...r.faults],
      tls: r.tls,
      open: r.open,
      pipelinedAfterBody: r.pipelinedAfterBody,
      refusedAfterData: r.refusedAfterData
    }))
  }

  /** Every command line of every connection, in arrival order (a live view). */
  get commands(): ReadonlyArray<string> {
    return this.allCommands
  }

  /** Every message accepted, in order (a live view). */
  get messages(): ReadonlyArray<ReceivedMessage> {
    return this.received
  }

  // --- what sessions report ---------------------------------------------------

  command(record: SessionRecord, line: string): void {
    record.commands.push(line)
    this.allCommands.push(line)
  }

  /** Stores a message; its queue id. */
  store(message: ReceivedMessage): number {
    this.received.push(message)
    return ++this.queued
  }

  faultAt(record: SessionRecord, stage: Stage, command: string): Fault | undefined {
    const plan = this.options.faults
    if (plan === undefined) return undefined
    const fault = typeof plan === "function"
      ? plan({ connection: record.id, stage, command, tls: record.tls })
      : plan[stage]
    if (fault !== undefined) {
      record.faults.push(stage)
      this.changed()
    }
    return fault
  }

  readonly delayed: Effect.Effect<void> = Effect.suspend(() =>
    this.delay === undefined ? Effect.void : Effect.sleep(this.delay)
  )

  send(link: ClientLink, text: string | Uint8Array): Effect.Effect<boolean> {
    return this.delay === undefined ? link.write(text) : Effect.andThen(Effect.sleep(this.delay), link.write(text))
  }

  get maxContinuationLines(): number {
    return this.limits.maxContinuationLines
  }

  strike(link: ClientLink, fault: Fault): Effect.Effect<Next> {
    return strike(this, link, fault)
  }

  // --- connections ------------------------------------------------------------

  /** A new connection: it counts as open until `closed`. */
  accept(): SessionHandle {
    const record: SessionRecord = {
      id: this.records.length + 1,
      commands: [],
      faults: [],
      tls: false,
      open: true,
      pipelinedAfterBody: 0,
      refusedAfterData: 0
    }
    this.records.push(record)
    this.changed()
    return record
  }

  closed(connection: SessionHandle): void {
    const record = connection as SessionRecord
    record.open = false
    this.changed()
  }

  /** Runs a session on `link` from its greeting to its end. */
  run(connection: SessionHandle, link: ClientLink): Effect.Effect<void> {
    const record = connection as SessionRecord
    return Effect.flatMap(link.isTls, (tls) => {
      record.tls = tls
      return new Session(this, link, record).run
    })
  }

  /** A connection that is open exactly as long as its session runs (in memory). */
  connection(link: ClientLink): Effect.Effect<void> {
    return Effect.acquireUseRelease(
      Effect.sync(() => this.accept()),
      (connection) => this.run(connection, link),
      (connection) => Effect.sync(() => this.closed(connection))
    )
  }
}
