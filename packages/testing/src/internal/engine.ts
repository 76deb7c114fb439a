import { hmac } from "@noble/hashes/hmac.js"
import { md5 } from "@noble/hashes/legacy.js"
import { bytesToHex } from "@noble/hashes/utils.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Base64 from "effect/encoding/Base64"
import * as Result from "effect/Result"
import type { ConnectionRecord, Fault, Limits, Mechanism, Options, ReceivedMessage, Stage } from "../TestServer.js"

/**
 * One connection as the engine sees it, whatever carries it: TCP (with a real
 * TLS upgrade) or the in-memory `TestSocket`.
 *
 * @internal
 */
export interface Wire {
  /** The next line without CRLF; `undefined` when the client closed, `null` when longer than `maxBytes`. */
  readonly readLine: (maxBytes: number) => Effect.Effect<string | undefined | null>
  /** Exactly `n` bytes, or `undefined` when the client closed first. */
  readonly readBytes: (n: number) => Effect.Effect<Uint8Array | undefined>
  /** A DATA body with dot-stuffing undone, at most `keep` bytes of it; `undefined` when the client closed first. */
  readonly readData: (keep: number) => Effect.Effect<Uint8Array | undefined>
  /** Whether client bytes are waiting to be read (a pipelined command, say). */
  readonly hasPending: Effect.Effect<boolean>
  /** Whether the connection is TLS from its first byte. */
  readonly isTls: Effect.Effect<boolean>
  /** Whether STARTTLS can be carried out here. */
  readonly canStartTls: boolean
  /** Writes; false when the connection is gone. */
  readonly write: (data: string | Uint8Array) => Effect.Effect<boolean>
  /** Writes `reply` and starts TLS; false when the handshake failed. */
  readonly startTls: (reply: string) => Effect.Effect<boolean>
  /** A graceful close (FIN). */
  readonly end: Effect.Effect<void>
  /** An abort (RST). */
  readonly reset: Effect.Effect<void>
}

/**
 * A connection of the server, as its transport holds it.
 *
 * @internal
 */
export interface Connection {
  readonly id: number
}

interface MutableConnection extends Connection {
  readonly id: number
  readonly commands: Array<string>
  readonly faults: Array<Stage>
  tls: boolean
  open: boolean
  pipelinedAfterBody: number
  refusedAfterData: number
}

/**
 * How the session goes on after a fault: with the next command (the fault
 * answered), as if no fault had struck (it only delayed), or not at all.
 */
type Next = "continue" | "behave" | "stop"

const defaults: Required<{ readonly [K in keyof Limits]: number }> = {
  maxLineBytes: 64 * 1024,
  maxCommands: 100_000,
  maxContinuationLines: 100_000,
  maxStoredBytes: 1024 * 1024
}

const withCrlf = (text: string): string => (text.endsWith("\r\n") ? text : `${text}\r\n`)

const lines = (code: number, texts: ReadonlyArray<string>): string =>
  texts.map((t, i) => `${code}${i === texts.length - 1 ? " " : "-"}${t}\r\n`).join("")

const fromBase64 = (text: string): string => Result.getOrElse(Base64.decodeString(text.trim()), () => "")
const toBase64 = (text: string): string => Base64.encode(text)
const encoder = new TextEncoder()

const address = (line: string): string => /<([^>]*)>/.exec(line)?.[1] ?? ""

/**
 * A server: its options, and what all its connections received. Each
 * connection runs `session` on a wire of its own.
 *
 * @internal
 */
/** What a read that outlasted the idle timeout gives instead of a line. */
const idleTimedOut: unique symbol = Symbol("idle timeout")

export class Server {
  private readonly records: Array<MutableConnection> = []
  private readonly allCommands: Array<string> = []
  private readonly received: Array<ReceivedMessage> = []
  private readonly watchers = new Set<() => void>()
  private readonly limits: Required<{ readonly [K in keyof Limits]: number }>
  private readonly delay: Duration.Duration | undefined
  private readonly idle: Duration.Duration | undefined
  private readonly hostname: string
  private queued = 0

  /** `offerStartTls`: whether the computed EHLO reply offers STARTTLS before TLS is on. */
  constructor(readonly options: Options, private readonly offerStartTls: boolean) {
    this.limits = {
      maxLineBytes: options.limits?.maxLineBytes ?? defaults.maxLineBytes,
      maxCommands: options.limits?.maxCommands ?? defaults.maxCommands,
      maxContinuationLines: options.limits?.maxContinuationLines ?? defaults.maxContinuationLines,
      maxStoredBytes: options.limits?.maxStoredBytes ?? defaults.maxStoredBytes
    }
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

  private changed(): void {
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

  // --- connections ------------------------------------------------------------

  /** A new connection: it counts as open until `closed`. */
  accept(): Connection {
    const record: MutableConnection = {
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

  closed(connection: Connection): void {
    const record = connection as MutableConnection
    record.open = false
    this.changed()
  }

  /** Runs a session on `wire` from its greeting to its end. */
  run(connection: Connection, wire: Wire): Effect.Effect<void> {
    const record = connection as MutableConnection
    return Effect.flatMap(wire.isTls, (tls) => {
      record.tls = tls
      return this.session(wire, record)
    })
  }

  /** A connection that is open exactly as long as its session runs (in memory). */
  connection(wire: Wire): Effect.Effect<void> {
    return Effect.acquireUseRelease(
      Effect.sync(() => this.accept()),
      (connection) => this.run(connection, wire),
      (connection) => Effect.sync(() => this.closed(connection))
    )
  }

  private faultAt(record: MutableConnection, stage: Stage, command: string): Fault | undefined {
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

  private readonly delayed: Effect.Effect<void> = Effect.suspend(() =>
    this.delay === undefined ? Effect.void : Effect.sleep(this.delay)
  )

  private send(wire: Wire, text: string | Uint8Array): Effect.Effect<boolean> {
    return this.delay === undefined ? wire.write(text) : Effect.andThen(Effect.sleep(this.delay), wire.write(text))
  }

  /** Carries out a fault; "continue" when the session goes on with the next command. */
  private strike(wire: Wire, fault: Fault): Effect.Effect<Next> {
    switch (fault._tag) {
      case "Delay":
        return Effect.as(Effect.sleep(fault.duration), "behave" as const)
      case "Close":
        return Effect.as(wire.end, "stop" as const)
      case "Reset":
        return Effect.as(wire.reset, "stop" as const)
      case "Stall":
        return Effect.never
      case "Garbage":
        return Effect.andThen(this.send(wire, fault.bytes), Effect.never)
      case "LongLine":
        return Effect.andThen(
          this.send(wire, `250 ${"x".repeat(Math.max(0, fault.length - 4))}\r\n`),
          Effect.never
        )
      case "EndlessContinuation": {
        // In batches, each waiting for the transport to take the last: the
        // client's reading speed bounds the memory, the loop limit the time.
        const batch = encoder.encode(`${fault.code}-continued without end\r\n`.repeat(64))
        const loop = (sent: number): Effect.Effect<void> =>
          sent >= this.limits.maxContinuationLines
            ? Effect.void
            : Effect.flatMap(wire.write(batch), (ok) => (ok ? loop(sent + 64) : Effect.void))
        return Effect.andThen(Effect.andThen(this.delayed, loop(0)), Effect.never)
      }
      case "Reply":
        return Effect.flatMap(
          this.send(wire, withCrlf(fault.text)),
          () => fault.close ? Effect.as(wire.end, "stop" as const) : Effect.succeed("continue" as const)
        )
      case "StartTlsInjection": {
        const ready = "220 2.0.0 ready to start TLS\r\n"
        const injection = fault.split
          ? Effect.andThen(this.send(wire, ready), wire.write(fault.injected))
          : this.send(wire, `${ready}${fault.injected}`)
        return Effect.andThen(injection, Effect.never)
      }
    }
  }

  private mechanisms(): ReadonlyArray<Mechanism> {
    const auth = this.options.auth
    if (auth === undefined) return []
    return auth.mechanisms ?? [
      ...(auth.password !== undefined ? ["PLAIN" as const, "LOGIN" as const] : []),
      ...(auth.accessToken !== undefined ? ["OAUTHBEARER" as const, "XOAUTH2" as const] : [])
    ]
  }

  private ehloReply(tls: boolean): string {
    const options = this.options
    let keywords: Array<string>
    if (options.capabilities !== undefined) {
      keywords = options.capabilities.filter((c) => !(tls && c.toUpperCase() === "STARTTLS"))
    } else {
      keywords = []
      if (options.pipelining ?? true) keywords.push("PIPELINING")
      keywords.push("8BITMIME", "ENHANCEDSTATUSCODES")
      if (options.chunking === true) keywords.push("CHUNKING")
      if (this.offerStartTls && !tls) keywords.push("STARTTLS")
      const mechanisms = this.mechanisms()
      if (mechanisms.length > 0) keywords.push(`AUTH ${mechanisms.join(" ")}`)
      keywords.push(...(options.extensions ?? []))
    }
    if (options.hideStartTls === true) keywords = keywords.map((k) => (k.toUpperCase() === "STARTTLS" ? "XXXXXXXA" : k))
    return lines(250, [this.hostname, ...keywords])
  }

  /** Runs one SASL exchange; the user when the credentials were right, `undefined` otherwise or when the client left. */
  private authenticate(wire: Wire, record: MutableConnection, line: string): Effect.Effect<string | undefined> {
    return Effect.gen({ self: this }, function*() {
      const expected = this.options.auth
      const [, mechanismWord, initial] = line.split(" ")
      const mechanism = (mechanismWord ?? "").toUpperCase()
      const next = Effect.map(wire.readLine(this.limits.maxLineBytes), (l) => (typeof l === "string" ? l : undefined))
      const response = (prompt: string) =>
        Effect.flatMap(this.send(wire, `334 ${prompt}\r\n`), (ok) => (ok ? next : Effect.succeed(undefined)))
      if (expected === undefined) return undefined
      const accept = (ok: boolean) => (ok ? expected.user : undefined)
      const password = expected.password
      if (mechanism === "PLAIN" && password !== undefined) {
        const answer = initial ?? (yield* response(""))
        if (answer === undefined) return undefined
        const [, user, given] = fromBase64(answer).split("\u0000")
        return accept(user === expected.user && given === password)
      }
      if (mechanism === "LOGIN" && password !== undefined) {
        const user = yield* response(toBase64("Username:"))
        if (user === undefined) return undefined
        const given = yield* response(toBase64("Password:"))
        if (given === undefined) return undefined
        return accept(fromBase64(user) === expected.user && fromBase64(given) === password)
      }
      if (mechanism === "CRAM-MD5" && password !== undefined) {
        const challenge = `<${record.id}.${record.commands.length}@${this.hostname}>`
        const answer = yield* response(toBase64(challenge))
        if (answer === undefined) return undefined
        const digest = bytesToHex(hmac(md5, encoder.encode(password), encoder.encode(challenge)))
        return accept(fromBase64(answer) === `${expected.user} ${digest}`)
      }
      if ((mechanism === "XOAUTH2" || mechanism === "OAUTHBEARER") && expected.accessToken !== undefined) {
        const answer = initial ?? (yield* response(""))
        if (answer === undefined) return undefined
        const fields = fromBase64(answer).split("\u0001")
        const user = mechanism === "XOAUTH2"
          ? fields.find((f) => f.startsWith("user="))?.slice(5)
          : /(?:^|,)a=([^,]*)/.exec(fields[0] ?? "")?.[1]?.replace(/=2C/g, ",").replace(/=3D/g, "=")
        const ok = user === expected.user && fields.includes(`auth=Bearer ${expected.accessToken}`)
        if (ok) return expected.user
        // RFC 7628 §3.2.2 / XOAUTH2: an error challenge the client must answer
        // before the final failure.
        yield* response(toBase64(JSON.stringify({ status: "401", schemes: "bearer" })))
        return undefined
      }
      return undefined
    })
  }

  private session(wire: Wire, record: MutableConnection): Effect.Effect<void> {
    const limits = this.limits
    const idle = this.idle
    const fault = (stage: Stage, command: string) => this.faultAt(record, stage, command)
    return Effect.gen({ self: this }, function*() {
      const greetingFault = fault("greeting", "")
      const greeted = greetingFault === undefined ? "behave" : yield* this.strike(wire, greetingFault)
      if (greeted === "stop") return
      if (greeted === "behave") {
        yield* this.send(wire, withCrlf(this.options.greeting ?? `220 ${this.hostname} ESMTP ready`))
      }
      const authRequired = this.options.auth !== undefined && this.options.auth.required !== false
      let user: string | undefined = undefined
      let from: string | undefined = undefined
      let to: Array<string> = []
      let chunks: Array<Uint8Array> = []
      let chunkBytes = 0
      let chunked = false
      const resetTransaction = () => {
        from = undefined
        to = []
        chunks = []
        chunkBytes = 0
        chunked = false
      }
      const store = (via: "DATA" | "BDAT", data: Uint8Array) => {
        this.received.push({ connection: record.id, from: from ?? "", to, data, via, tls: record.tls, user })
        resetTransaction()
        return `250 2.0.0 Ok: queued as TEST${++this.queued}\r\n`
      }
      const ok = (text: string) => Effect.asVoid(this.send(wire, text))
      /** Every command that came in behind a body's end is refused, as some servers do. */
      const refuseBehind: Effect.Effect<Next> = Effect.gen({ self: this }, function*() {
        while (yield* wire.hasPending) {
          const early = yield* wire.readLine(limits.maxLineBytes)
          if (early === undefined || early === null) return "stop" as const
          record.commands.push(early)
          this.allCommands.push(early)
          record.refusedAfterData++
          this.changed()
          yield* ok("503 5.5.1 Bad sequence of commands - pipelined after end of DATA\r\n")
        }
        return "continue" as const
      })
      /** The end of a message (final dot or BDAT LAST): stored and acknowledged, unless a fault strikes. */
      const complete = (via: "DATA" | "BDAT", data: Uint8Array, line: string) =>
        Effect.gen({ self: this }, function*() {
          const behind = yield* wire.hasPending
          if (behind) record.pipelinedAfterBody++
          const end = fault("end", line)
          const next = end === undefined ? "behave" : yield* this.strike(wire, end)
          if (next === "behave") {
            yield* ok(store(via, data))
            if (behind && this.options.refusePipelinedAfterData === true) return yield* refuseBehind
            return "continue" as const
          }
          resetTransaction()
          return next
        })

      for (let count = 0; count < limits.maxCommands; count++) {
        const line = idle === undefined
          ? yield* wire.readLine(limits.maxLineBytes)
          : yield* Effect.timeoutOrElse(wire.readLine(limits.maxLineBytes), {
            duration: idle,
            orElse: () => Effect.succeed(idleTimedOut)
          })
        if (line === idleTimedOut) {
          // As Postfix's smtpd_timeout and smtp-server's socketTimeout do: a goodbye, then the end.
          yield* this.send(wire, `421 4.4.2 ${this.hostname} Error: timeout exceeded\r\n`)
          return yield* wire.end
        }
        if (line === undefined) return
        if (line === null) {
          yield* this.send(wire, "500 5.5.2 line too long\r\n")
          return yield* wire.end
        }
        record.commands.push(line)
        this.allCommands.push(line)
        const upper = line.toUpperCase()
        const verb = upper.split(" ")[0] ?? ""
        const stage: Stage | undefined = verb === "EHLO" || verb === "HELO"
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
        const struck = stage === undefined ? undefined : fault(stage, line)
        const next = struck === undefined ? "behave" : yield* this.strike(wire, struck)
        if (next === "stop") return
        if (next === "continue") {
          // Whatever the fault said, QUIT ends the session.
          if (stage === "quit") return yield* wire.end
          continue
        }

        if (stage === "ehlo") {
          yield* ok(verb === "EHLO" ? this.ehloReply(record.tls) : `250 ${this.hostname}\r\n`)
        } else if (stage === "starttls") {
          if (!wire.canStartTls || record.tls) {
            yield* ok("502 5.5.1 STARTTLS not available\r\n")
            continue
          }
          yield* this.delayed
          if (!(yield* wire.startTls("220 2.0.0 ready to start TLS\r\n"))) return
          record.tls = true
          user = undefined
          resetTransaction()
        } else if (stage === "auth") {
          user = yield* this.authenticate(wire, record, line)
          yield* ok(user !== undefined ? "235 2.7.0 accepted\r\n" : "535 5.7.8 authentication failed\r\n")
        } else if (stage === "mail") {
          if (authRequired && user === undefined) {
            yield* ok("530 5.7.0 authentication required\r\n")
            continue
          }
          resetTransaction()
          from = address(line)
          yield* ok("250 2.1.0 ok\r\n")
        } else if (stage === "rcpt") {
          if (from === undefined) {
            yield* ok("503 5.5.1 MAIL first\r\n")
            continue
          }
          to.push(address(line))
          yield* ok("250 2.1.5 ok\r\n")
        } else if (stage === "data") {
          if (from === undefined || to.length === 0) {
            yield* ok("554 5.5.1 no valid recipients\r\n")
            continue
          }
          yield* ok("354 go ahead\r\n")
          const middle = fault("body", line)
          // A delay pauses before the body is read; every other fault strikes mid-body.
          if (middle?._tag === "Delay") yield* this.strike(wire, middle)
          else if (middle !== undefined) {
            // Mid-body: one line of it has arrived when the fault strikes.
            const first = yield* wire.readLine(limits.maxLineBytes)
            if (first === undefined || first === null) return
            if ((yield* this.strike(wire, middle)) === "stop") return
            // The fault replied in mid-body: the rest is read and dropped.
            if (first !== "." && (yield* wire.readData(0)) === undefined) return
            resetTransaction()
            continue
          }
          const body = yield* wire.readData(limits.maxStoredBytes)
          if (body === undefined) return
          if ((yield* complete("DATA", body, line)) === "stop") return
        } else if (verb === "BDAT") {
          const [, sizeWord, lastWord] = line.split(" ")
          const size = Number(sizeWord)
          const last = lastWord?.toUpperCase() === "LAST"
          if (!Number.isSafeInteger(size) || size < 0) {
            yield* ok("501 5.5.4 bad BDAT size\r\n")
            return yield* wire.end
          }
          const middle = chunked ? undefined : fault("body", line)
          chunked = true
          if (middle?._tag === "Delay") yield* this.strike(wire, middle)
          else if (middle !== undefined) {
            const half = yield* wire.readBytes(Math.floor(size / 2))
            if (half === undefined) return
            if ((yield* this.strike(wire, middle)) === "stop") return
            const rest = yield* wire.readBytes(size - Math.floor(size / 2))
            if (rest === undefined) return
            resetTransaction()
            continue
          }
          const chunk = yield* wire.readBytes(size)
          if (chunk === undefined) return
          if (chunkBytes < limits.maxStoredBytes) {
            const kept = chunk.slice(0, limits.maxStoredBytes - chunkBytes)
            chunks.push(kept)
            chunkBytes += kept.length
          }
          if (from === undefined || to.length === 0) {
            yield* ok("554 5.5.1 no valid recipients\r\n")
            resetTransaction()
            continue
          }
          if (!last) {
            yield* ok("250 2.0.0 chunk ok\r\n")
            continue
          }
          if ((yield* complete("BDAT", joinChunks(chunks, chunkBytes), line)) === "stop") return
        } else if (verb === "RSET") {
          resetTransaction()
          yield* ok("250 2.0.0 ok\r\n")
        } else if (verb === "NOOP") {
          yield* ok("250 2.0.0 ok\r\n")
        } else if (stage === "quit") {
          yield* ok("221 2.0.0 bye\r\n")
          return yield* wire.end
        } else {
          yield* ok("502 5.5.2 command not recognised\r\n")
        }
      }
      yield* this.send(wire, "421 4.7.0 too many commands\r\n")
      yield* wire.end
    })
  }
}

const joinChunks = (chunks: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  const out = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.length
  }
  return out
}
