/**
 * One SMTP session of the server, from its greeting to its end: the command
 * loop, each command's handler, and the faults that strike at each stage.
 */
import * as Bytes from "effect/Bytes"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Fault, Options, ReceivedMessage, Stage } from "../../TestServer.js"
import { ehloReply, withCrlf } from "./ehlo.js"
import type { FaultHost, Next } from "./faults.js"
import type { ClientLink } from "./link.js"
import type { ResolvedLimits, SessionRecord } from "./record.js"
import { authenticate } from "./sasl.js"

/**
 * What a session needs from its server.
 *
 * @internal
 */
export interface SessionHost extends FaultHost {
  readonly options: Options
  readonly limits: ResolvedLimits
  readonly idle: Duration.Duration | undefined
  readonly hostname: string
  /** Whether the computed EHLO reply offers STARTTLS before TLS is on. */
  readonly offerStartTls: boolean
  readonly strike: (link: ClientLink, fault: Fault) => Effect.Effect<Next>
  readonly faultAt: (record: SessionRecord, stage: Stage, command: string) => Fault | undefined
  /** Records a command line of `record`. */
  readonly command: (record: SessionRecord, line: string) => void
  /** Stores a message; its queue id. */
  readonly store: (message: ReceivedMessage) => number
  /** Tells the watchers a record changed. */
  readonly changed: () => void
}

/** Whether the loop reads the next command or the session is over. */
type Step = "next" | "stop"

/** What a read that outlasted the idle timeout gives instead of a line. */
const idleTimedOut: unique symbol = Symbol("idle timeout")

const address = (line: string): string => /<([^>]*)>/.exec(line)?.[1] ?? ""

/** The stage a command line belongs to, for the faults' plan; `undefined` for RSET, NOOP, BDAT and the unknown. */
const stageOf = (upper: string, verb: string): Stage | undefined =>
  verb === "EHLO" || verb === "HELO"
    ? "ehlo"
    : verb === "STARTTLS"
    ? "starttls"
    : verb === "AUTH"
    ? "auth"
    : upper.startsWith("MAIL FROM:")
    ? "mail"
    : upper.startsWith("RCPT TO:")
    ? "rcpt"
    : verb === "DATA"
    ? "data"
    : verb === "QUIT"
    ? "quit"
    : undefined

/**
 * A class because every handler reads and resets the same transaction state
 * (the user, the envelope, the BDAT chunks); each handler is under 40 lines.
 *
 * @internal
 */
export class Session {
  private user: string | undefined = undefined
  private from: string | undefined = undefined
  private to: Array<string> = []
  private chunks: Array<Uint8Array> = []
  private chunkBytes = 0
  private chunked = false

  constructor(
    private readonly host: SessionHost,
    private readonly link: ClientLink,
    private readonly record: SessionRecord
  ) {}

  private resetTransaction(): void {
    this.from = undefined
    this.to = []
    this.chunks = []
    this.chunkBytes = 0
    this.chunked = false
  }

  private fault(stage: Stage, command: string): Fault | undefined {
    return this.host.faultAt(this.record, stage, command)
  }

  private ok(text: string): Effect.Effect<void> {
    return Effect.asVoid(this.host.send(this.link, text))
  }

  /** A reply, then a graceful close: the session is over. */
  private goodbye(text: string): Effect.Effect<Step> {
    return Effect.as(Effect.andThen(this.host.send(this.link, text), this.link.end), "stop" as const)
  }

  /** The greeting, then every command until the client leaves, a fault ends it or the limit is reached. */
  readonly run: Effect.Effect<void> = Effect.gen({ self: this }, function*() {
    const greetingFault = this.fault("greeting", "")
    const greeted = greetingFault === undefined ? "behave" : yield* this.host.strike(this.link, greetingFault)
    if (greeted === "stop") return
    if (greeted === "behave") {
      yield* this.host.send(this.link, withCrlf(this.host.options.greeting ?? `220 ${this.host.hostname} ESMTP ready`))
    }
    for (let count = 0; count < this.host.limits.maxCommands; count++) {
      const line = yield* this.readCommand
      if (line === undefined) return
      if ((yield* this.dispatch(line)) === "stop") return
    }
    yield* this.goodbye("421 4.7.0 too many commands\r\n")
  })

  /** The next command line, recorded; `undefined` when the session is over. */
  private readonly readCommand: Effect.Effect<string | undefined> = Effect.gen({ self: this }, function*() {
    const { idle, limits } = this.host
    const line = idle === undefined
      ? yield* this.link.readLine(limits.maxLineBytes)
      : yield* Effect.timeoutOrElse(this.link.readLine(limits.maxLineBytes), {
        duration: idle,
        orElse: () => Effect.succeed(idleTimedOut)
      })
    if (line === idleTimedOut) {
      // As Postfix's smtpd_timeout and smtp-server's socketTimeout do: a goodbye, then the end.
      yield* this.goodbye(`421 4.4.2 ${this.host.hostname} Error: timeout exceeded\r\n`)
      return undefined
    }
    if (line === undefined) return undefined
    if (line === null) {
      yield* this.goodbye("500 5.5.2 line too long\r\n")
      return undefined
    }
    this.host.command(this.record, line)
    return line
  })

  /** One command: its fault, if the plan has one, else its handler. */
  private dispatch(line: string): Effect.Effect<Step> {
    return Effect.gen({ self: this }, function*() {
      const upper = line.toUpperCase()
      const verb = upper.split(" ")[0] ?? ""
      const stage = stageOf(upper, verb)
      const struck = stage === undefined ? undefined : this.fault(stage, line)
      const next = struck === undefined ? "behave" : yield* this.host.strike(this.link, struck)
      if (next === "stop") return "stop" as const
      if (next === "continue") {
        // Whatever the fault said, QUIT ends the session.
        return stage === "quit" ? yield* Effect.as(this.link.end, "stop" as const) : "next" as const
      }
      switch (stage) {
        case "ehlo":
          return yield* Effect.as(
            this.ok(verb === "EHLO" ? this.ehlo() : `250 ${this.host.hostname}\r\n`),
            "next" as const
          )
        case "starttls":
          return yield* this.startTls
        case "auth":
          return yield* this.auth(line)
        case "mail":
          return yield* this.mail(line)
        case "rcpt":
          return yield* this.rcpt(line)
        case "data":
          return yield* this.data(line)
        case "quit":
          return yield* this.goodbye("221 2.0.0 bye\r\n")
      }
      if (verb === "BDAT") return yield* this.bdat(line)
      if (verb === "RSET") this.resetTransaction()
      const reply = verb === "RSET" || verb === "NOOP" ? "250 2.0.0 ok\r\n" : "502 5.5.2 command not recognised\r\n"
      return yield* Effect.as(this.ok(reply), "next" as const)
    })
  }

  private ehlo(): string {
    const { hostname, offerStartTls, options } = this.host
    return ehloReply(options, hostname, offerStartTls, this.record.tls)
  }

  private readonly startTls: Effect.Effect<Step> = Effect.gen({ self: this }, function*() {
    if (!this.link.canStartTls || this.record.tls) {
      yield* this.ok("502 5.5.1 STARTTLS not available\r\n")
      return "next" as const
    }
    yield* this.host.delayed
    if (!(yield* this.link.startTls("220 2.0.0 ready to start TLS\r\n"))) return "stop" as const
    this.record.tls = true
    this.user = undefined
    this.resetTransaction()
    return "next" as const
  })

  private auth(line: string): Effect.Effect<Step> {
    const { limits, options } = this.host
    const next = Effect.map(this.link.readLine(limits.maxLineBytes), (l) => (typeof l === "string" ? l : undefined))
    const response = (prompt: string) =>
      Effect.flatMap(this.host.send(this.link, `334 ${prompt}\r\n`), (ok) => (ok ? next : Effect.succeed(undefined)))
    const challenge = () => `<${this.record.id}.${this.record.commands.length}@${this.host.hostname}>`
    return Effect.gen({ self: this }, function*() {
      this.user = yield* authenticate({ expected: options.auth, response, challenge }, line)
      yield* this.ok(this.user !== undefined ? "235 2.7.0 accepted\r\n" : "535 5.7.8 authentication failed\r\n")
      return "next" as const
    })
  }

  private mail(line: string): Effect.Effect<Step> {
    const auth = this.host.options.auth
    if (auth !== undefined && auth.required !== false && this.user === undefined) {
      return Effect.as(this.ok("530 5.7.0 authentication required\r\n"), "next" as const)
    }
    return Effect.suspend(() => {
      this.resetTransaction()
      this.from = address(line)
      return Effect.as(this.ok("250 2.1.0 ok\r\n"), "next" as const)
    })
  }

  private rcpt(line: string): Effect.Effect<Step> {
    if (this.from === undefined) return Effect.as(this.ok("503 5.5.1 MAIL first\r\n"), "next" as const)
    this.to.push(address(line))
    return Effect.as(this.ok("250 2.1.5 ok\r\n"), "next" as const)
  }

  private data(line: string): Effect.Effect<Step> {
    return Effect.gen({ self: this }, function*() {
      const { limits } = this.host
      if (this.from === undefined || this.to.length === 0) {
        yield* this.ok("554 5.5.1 no valid recipients\r\n")
        return "next" as const
      }
      yield* this.ok("354 go ahead\r\n")
      const middle = this.fault("body", line)
      // A delay pauses before the body is read; every other fault strikes mid-body.
      if (middle?._tag === "Delay") yield* this.host.strike(this.link, middle)
      else if (middle !== undefined) {
        // Mid-body: one line of it has arrived when the fault strikes.
        const first = yield* this.link.readLine(limits.maxLineBytes)
        if (first === undefined || first === null) return "stop" as const
        if ((yield* this.host.strike(this.link, middle)) === "stop") return "stop" as const
        // The fault replied in mid-body: the rest is read and dropped.
        if (first !== "." && (yield* this.link.readData(0)) === undefined) return "stop" as const
        this.resetTransaction()
        return "next" as const
      }
      const body = yield* this.link.readData(limits.maxStoredBytes)
      if (body === undefined) return "stop" as const
      return yield* this.complete("DATA", body, line)
    })
  }

  private bdat(line: string): Effect.Effect<Step> {
    return Effect.gen({ self: this }, function*() {
      const { limits } = this.host
      const [, sizeWord, lastWord] = line.split(" ")
      const size = Number(sizeWord)
      const last = lastWord?.toUpperCase() === "LAST"
      if (!Number.isSafeInteger(size) || size < 0) return yield* this.goodbye("501 5.5.4 bad BDAT size\r\n")
      const middle = this.chunked ? undefined : this.fault("body", line)
      this.chunked = true
      if (middle?._tag === "Delay") yield* this.host.strike(this.link, middle)
      else if (middle !== undefined) {
        const half = yield* this.link.readBytes(Math.floor(size / 2))
        if (half === undefined) return "stop" as const
        if ((yield* this.host.strike(this.link, middle)) === "stop") return "stop" as const
        const rest = yield* this.link.readBytes(size - Math.floor(size / 2))
        if (rest === undefined) return "stop" as const
        this.resetTransaction()
        return "next" as const
      }
      const chunk = yield* this.link.readBytes(size)
      if (chunk === undefined) return "stop" as const
      if (this.chunkBytes < limits.maxStoredBytes) {
        const kept = chunk.slice(0, limits.maxStoredBytes - this.chunkBytes)
        this.chunks.push(kept)
        this.chunkBytes += kept.length
      }
      if (this.from === undefined || this.to.length === 0) {
        yield* this.ok("554 5.5.1 no valid recipients\r\n")
        this.resetTransaction()
        return "next" as const
      }
      if (!last) return yield* Effect.as(this.ok("250 2.0.0 chunk ok\r\n"), "next" as const)
      return yield* this.complete("BDAT", Bytes.concat(this.chunks), line)
    })
  }

  /** The end of a message (final dot or BDAT LAST): stored and acknowledged, unless a fault strikes. */
  private complete(via: "DATA" | "BDAT", data: Uint8Array, line: string): Effect.Effect<Step> {
    return Effect.gen({ self: this }, function*() {
      const behind = yield* this.link.hasPending
      if (behind) this.record.pipelinedAfterBody++
      const end = this.fault("end", line)
      const next = end === undefined ? "behave" : yield* this.host.strike(this.link, end)
      if (next === "behave") {
        const { record, to, user } = this
        const queued = this.host.store({
          connection: record.id,
          from: this.from ?? "",
          to,
          data,
          via,
          tls: record.tls,
          user
        })
        this.resetTransaction()
        yield* this.ok(`250 2.0.0 Ok: queued as TEST${queued}\r\n`)
        if (behind && this.host.options.refusePipelinedAfterData === true) return yield* this.refuseBehind
        return "next" as const
      }
      this.resetTransaction()
      return next === "stop" ? "stop" as const : "next" as const
    })
  }

  /** Every command that came in behind a body's end is refused, as some servers do. */
  private readonly refuseBehind: Effect.Effect<Step> = Effect.gen({ self: this }, function*() {
    while (yield* this.link.hasPending) {
      const early = yield* this.link.readLine(this.host.limits.maxLineBytes)
      if (early === undefined || early === null) return "stop" as const
      this.host.command(this.record, early)
      this.record.refusedAfterData++
      this.host.changed()
      yield* this.ok("503 5.5.1 Bad sequence of commands - pipelined after end of DATA\r\n")
    }
    return "next" as const
  })
}
