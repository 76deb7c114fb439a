/**
 * A scriptable, misbehaving SMTP server on loopback, for effect-smtp's own
 * hardening tests and for applications' tests: at any stage of a session it
 * can close, reset, stall, send garbage, an over-long line or endless
 * continuation lines, answer 421 / 4xx / 5xx, or inject lines after its
 * STARTTLS reply. Otherwise it behaves like a small, ordinary server
 * (STARTTLS with a real TLS upgrade, PIPELINING, CHUNKING, AUTH PLAIN / LOGIN
 * / XOAUTH2 / OAUTHBEARER), and it reports how many connections are open and
 * everything it received.
 *
 * The server runs on the live clock and its own runtime, whatever clock or
 * services the test uses: a `TestClock` never freezes its delays, and its
 * work never counts as the test's.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import type { AddressInfo } from "node:net"
import * as Net from "node:net"
import * as Tls from "node:tls"

/**
 * Where in a session a fault strikes:
 * - `greeting`: instead of the 220 greeting;
 * - `ehlo`: the reply to EHLO (or HELO);
 * - `starttls`: the reply to STARTTLS;
 * - `auth`: the reply to AUTH;
 * - `mail`, `rcpt`: the reply to MAIL FROM, to each RCPT TO;
 * - `data`: the reply to DATA (the "354" of DATA initiation);
 * - `body`: mid-body, after the first line of a DATA body or half of the
 *   first BDAT chunk was received;
 * - `end`: the reply after the final dot (or after BDAT LAST);
 * - `quit`: the reply to QUIT.
 *
 * @since 0.1.0
 * @category models
 */
export type Stage = "greeting" | "ehlo" | "starttls" | "auth" | "mail" | "rcpt" | "data" | "body" | "end" | "quit"

/**
 * Every stage, in session order.
 *
 * @since 0.1.0
 * @category constants
 */
export const stages: ReadonlyArray<Stage> = [
  "greeting",
  "ehlo",
  "starttls",
  "auth",
  "mail",
  "rcpt",
  "data",
  "body",
  "end",
  "quit"
]

/**
 * Ends the connection gracefully (FIN): the client reads end-of-stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface Close {
  readonly _tag: "Close"
}

/**
 * Aborts the connection (RST, `socket.resetAndDestroy()`): the client's next
 * read or write fails with ECONNRESET.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reset {
  readonly _tag: "Reset"
}

/**
 * Never answers again and never closes: only the client's own timeout (or its
 * closing the connection) ends the session.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stall {
  readonly _tag: "Stall"
}

/**
 * Sends bytes that are no SMTP reply, then stalls.
 *
 * @since 0.1.0
 * @category models
 */
export interface Garbage {
  readonly _tag: "Garbage"
  readonly bytes: Uint8Array
}

/**
 * Sends one reply line of `length` octets (plus CRLF), then stalls.
 *
 * @since 0.1.0
 * @category models
 */
export interface LongLine {
  readonly _tag: "LongLine"
  readonly length: number
}

/**
 * Sends `<code>-` continuation lines that never end (up to the server's
 * `maxContinuationLines`, or until the client closes), then stalls.
 *
 * @since 0.1.0
 * @category models
 */
export interface EndlessContinuation {
  readonly _tag: "EndlessContinuation"
  readonly code: number
}

/**
 * Answers with `text` (one or more lines, CRLF added when missing) instead of
 * the usual reply. With `close` the server then closes the connection, as a
 * real server does after 421; otherwise it goes on with the session.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reply {
  readonly _tag: "Reply"
  readonly text: string
  readonly close: boolean
}

/**
 * Only at the `starttls` stage: answers STARTTLS with its 220 followed by
 * further plaintext lines before any handshake (the response-injection
 * attack, EAST case B_1), then waits for the client to close.
 *
 * @since 0.1.0
 * @category models
 */
export interface StartTlsInjection {
  readonly _tag: "StartTlsInjection"
  readonly injected: string
  /** Send the injected lines in a second write, right after the 220 (default: one write). */
  readonly split: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export type Fault = Close | Reset | Stall | Garbage | LongLine | EndlessContinuation | Reply | StartTlsInjection

/**
 * @since 0.1.0
 * @category constructors
 */
export const close: Fault = { _tag: "Close" }

/**
 * @since 0.1.0
 * @category constructors
 */
export const reset: Fault = { _tag: "Reset" }

/**
 * @since 0.1.0
 * @category constructors
 */
export const stall: Fault = { _tag: "Stall" }

/**
 * Garbage; by default NUL, 8-bit bytes and HTML, no digits in front.
 *
 * @since 0.1.0
 * @category constructors
 */
export const garbage = (bytes?: string | Uint8Array): Fault => ({
  _tag: "Garbage",
  bytes: bytes === undefined
    ? Uint8Array.from([0x00, 0xff, 0xfe, ...new TextEncoder().encode("<html>not smtp</html>\r\n")])
    : typeof bytes === "string"
    ? new TextEncoder().encode(bytes)
    : bytes
})

/**
 * An over-long reply line; by default 64 KiB, far past RFC 5321's 512 octets.
 *
 * @since 0.1.0
 * @category constructors
 */
export const longLine = (length = 64 * 1024): Fault => ({ _tag: "LongLine", length })

/**
 * @since 0.1.0
 * @category constructors
 */
export const endlessContinuation = (code = 250): Fault => ({ _tag: "EndlessContinuation", code })

/**
 * @since 0.1.0
 * @category constructors
 */
export const reply = (text: string, options?: { readonly close?: boolean | undefined }): Fault => ({
  _tag: "Reply",
  text,
  close: options?.close ?? false
})

/**
 * 421: the server is shutting the channel down, and does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serviceClosing = (text = "421 4.3.2 misbehaving.test closing the channel"): Fault =>
  reply(text, { close: true })

/**
 * A 4xx reply (default 451), after which the session goes on.
 *
 * @since 0.1.0
 * @category constructors
 */
export const transient = (text = "451 4.3.0 temporary failure, try again later"): Fault => reply(text)

/**
 * A 5xx reply (default 554), after which the session goes on.
 *
 * @since 0.1.0
 * @category constructors
 */
export const permanent = (text = "554 5.3.0 permanent failure"): Fault => reply(text)

/**
 * The STARTTLS response injection; by default a whole forged EHLO reply.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startTlsInjection = (
  injected = "250-injected.invalid\r\n250-AUTH PLAIN LOGIN\r\n250 PIPELINING\r\n",
  options?: { readonly split?: boolean | undefined }
): Fault => ({ _tag: "StartTlsInjection", injected, split: options?.split ?? false })

/**
 * What a fault decision is told.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultContext {
  /** 1 for the first connection the server accepted, 2 for the next, ... */
  readonly connection: number
  readonly stage: Stage
  /** The command line that reached the stage ("" for the greeting). */
  readonly command: string
  /** Whether the connection is TLS (after STARTTLS). */
  readonly tls: boolean
}

/**
 * Which fault strikes where: a fault per stage (applied every time the stage
 * is reached, on every connection), or a function deciding per connection
 * and command (`undefined`: behave).
 *
 * @since 0.1.0
 * @category models
 */
export type FaultPlan = { readonly [S in Stage]?: Fault | undefined } | ((context: FaultContext) => Fault | undefined)

/**
 * AUTH the server accepts. With a password it offers PLAIN and LOGIN; with an
 * access token, OAUTHBEARER and XOAUTH2. When set, MAIL requires AUTH.
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthOptions {
  readonly user: string
  readonly password?: string | undefined
  readonly accessToken?: string | undefined
}

/**
 * Bounds that keep the server itself finite, whatever a client or a fault does.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  /** The longest command line read (default 64 KiB); longer: 500 and close. */
  readonly maxLineBytes?: number | undefined
  /** Commands per connection (default 100,000); then 421 and close. */
  readonly maxCommands?: number | undefined
  /** Lines of an `EndlessContinuation` (default 100,000). */
  readonly maxContinuationLines?: number | undefined
  /** Body bytes kept per message in `messages` (default 1 MiB; the rest is read and dropped). */
  readonly maxStoredBytes?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly faults?: FaultPlan | undefined
  /** Default `220 misbehaving.test ESMTP ready`. */
  readonly greeting?: string | undefined
  /** Offer PIPELINING (default true). */
  readonly pipelining?: boolean | undefined
  /** Offer CHUNKING, so clients send BDAT (default false). */
  readonly chunking?: boolean | undefined
  /** Further EHLO keywords, e.g. `SMTPUTF8`, `SIZE 1000`. */
  readonly extensions?: ReadonlyArray<string> | undefined
  /** Offer STARTTLS and upgrade for real with this key and certificate (PEM). */
  readonly tls?: { readonly key: string | Uint8Array; readonly cert: string | Uint8Array } | undefined
  /**
   * Hide STARTTLS from the EHLO reply (as a downgrade attacker rewrites it to
   * `XXXXXXXA`) while still accepting it: EAST case D_1.
   */
  readonly hideStartTls?: boolean | undefined
  readonly auth?: AuthOptions | undefined
  /** A wait before every reply, on the live clock (default none). */
  readonly replyDelay?: Duration.DurationInput | undefined
  readonly limits?: Limits | undefined
}

/**
 * A message the server accepted (it answered 250 to its end).
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedMessage {
  readonly connection: number
  readonly from: string
  readonly to: ReadonlyArray<string>
  /** The body as stored: dot-stuffing undone, terminator removed; at most `maxStoredBytes`. */
  readonly data: Uint8Array
  readonly via: "DATA" | "BDAT"
  readonly tls: boolean
}

/**
 * One connection the server accepted.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionRecord {
  readonly id: number
  /** Every command line received, in order, as sent (AUTH payloads included: this is a test server). */
  readonly commands: ReadonlyArray<string>
  /** The stages where a fault struck. */
  readonly faults: ReadonlyArray<Stage>
  readonly tls: boolean
  readonly open: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface MisbehavingServer {
  readonly host: string
  readonly port: number
  /** Connections open right now (accepted and not yet closed on the server's side). */
  readonly openConnections: Effect.Effect<number>
  readonly acceptedConnections: Effect.Effect<number>
  readonly connections: Effect.Effect<ReadonlyArray<ConnectionRecord>>
  /** Every command line of every connection, in arrival order. */
  readonly commands: Effect.Effect<ReadonlyArray<string>>
  readonly messages: Effect.Effect<ReadonlyArray<ReceivedMessage>>
  /**
   * Waits, at most `timeout` of wall-clock time (default 2 seconds), until
   * exactly `count` connections are open, and returns the number open when it
   * stopped waiting: `count`, or what it was at the deadline.
   */
  readonly awaitOpenConnections: (count: number, timeout?: Duration.DurationInput) => Effect.Effect<number>
}

const CR = 0x0d
const LF = 0x0a
const DOT = 0x2e

const defaults = {
  maxLineBytes: 64 * 1024,
  maxCommands: 100_000,
  maxContinuationLines: 100_000,
  maxStoredBytes: 1024 * 1024
}

const withCrlf = (text: string): string => (text.endsWith("\r\n") ? text : `${text}\r\n`)

const lines = (code: number, texts: ReadonlyArray<string>): string =>
  texts.map((t, i) => `${code}${i === texts.length - 1 ? " " : "-"}${t}\r\n`).join("")

const fromBase64 = (text: string): string => Buffer.from(text.trim(), "base64").toString("utf8")
const toBase64 = (text: string): string => Buffer.from(text, "utf8").toString("base64")

/**
 * One connection's byte stream, read by pulling: a command line, exactly n
 * bytes, or a DATA body. The socket underneath changes after STARTTLS.
 */
class Wire {
  private buffer: Buffer = Buffer.alloc(0)
  private waiter: (() => void) | undefined = undefined
  private ended = false
  socket: Net.Socket
  tls = false

  constructor(readonly raw: Net.Socket) {
    this.socket = raw
    this.attach(raw)
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    this.wake()
  }

  private readonly onEnd = (): void => {
    this.ended = true
    this.wake()
  }

  private wake(): void {
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.()
  }

  private attach(socket: Net.Socket): void {
    socket.on("data", this.onData)
    socket.on("end", this.onEnd)
    socket.on("close", this.onEnd)
  }

  private detach(socket: Net.Socket): void {
    socket.off("data", this.onData)
    socket.off("end", this.onEnd)
    socket.off("close", this.onEnd)
  }

  /** Waits for more bytes; false when none will come. */
  private readonly more: Effect.Effect<boolean> = Effect.suspend(() =>
    this.ended ? Effect.succeed(false) : Effect.async<boolean>((resume) => {
      this.waiter = () => resume(Effect.succeed(true))
      return Effect.sync(() => {
        this.waiter = undefined
      })
    })
  )

  /** The next line without CRLF; `undefined` when the client closed, `null` when it is over-long. */
  readLine(maxBytes: number): Effect.Effect<string | undefined | null> {
    return Effect.suspend(() => {
      const lf = this.buffer.indexOf(LF)
      if (lf !== -1) {
        const end = lf > 0 && this.buffer[lf - 1] === CR ? lf - 1 : lf
        const line = this.buffer.subarray(0, end).toString("utf8")
        this.buffer = this.buffer.subarray(lf + 1)
        return Effect.succeed(line)
      }
      if (this.buffer.length > maxBytes) return Effect.succeed(null)
      return Effect.flatMap(this.more, (more) => (more ? this.readLine(maxBytes) : Effect.succeed(undefined)))
    })
  }

  /** Exactly `n` bytes, or `undefined` when the client closed first. */
  readBytes(n: number): Effect.Effect<Buffer | undefined> {
    return Effect.suspend(() => {
      if (this.buffer.length >= n) {
        const taken = this.buffer.subarray(0, n)
        this.buffer = this.buffer.subarray(n)
        return Effect.succeed(taken)
      }
      return Effect.flatMap(this.more, (more) => (more ? this.readBytes(n) : Effect.succeed(undefined)))
    })
  }

  /**
   * The rest of a DATA body up to and including CRLF.CRLF, un-stuffed into
   * `sink` (at most `keep` bytes kept). `atLineStart`: the body is at a line
   * start (true at its beginning and after a line already read). False when
   * the client closed first.
   */
  readData(sink: Array<number>, keep: number, atLineStart: boolean): Effect.Effect<boolean> {
    // Matching state: 0 in a line, 1 after CR, 2 at a line start, 3 after a
    // leading dot, 4 after a leading dot and CR.
    let state = atLineStart ? 2 : 0
    const step: Effect.Effect<boolean> = Effect.suspend(() => {
      const data = this.buffer
      for (let i = 0; i < data.length; i++) {
        const b = data[i]
        if (state === 4 && b === LF) {
          this.buffer = data.subarray(i + 1)
          return Effect.succeed(true)
        }
        if (state === 3 && b !== CR) {
          // A stuffed dot: the leading dot is dropped, this byte is content.
          state = 0
        } else if (state === 4) {
          // ".\r" followed by something else: a malformed body; the dot goes
          // as a stuffed one would, the CR is kept.
          if (sink.length < keep) sink.push(CR)
          state = 0
        }
        if (state === 2 && b === DOT) {
          state = 3
          continue
        }
        if (state === 3 && b === CR) {
          state = 4
          continue
        }
        if (sink.length < keep) sink.push(b)
        state = b === CR ? 1 : state === 1 && b === LF ? 2 : 0
      }
      this.buffer = Buffer.alloc(0)
      return Effect.flatMap(this.more, (more) => (more ? step : Effect.succeed(false)))
    })
    return step
  }

  /** Writes and waits until the bytes are handed to the OS; false when the socket is gone. */
  write(data: string | Uint8Array): Effect.Effect<boolean> {
    return Effect.async<boolean>((resume) => {
      const socket = this.socket
      if (socket.destroyed || !socket.writable) return resume(Effect.succeed(false))
      socket.write(data, (error) => resume(Effect.succeed(error === undefined || error === null)))
    })
  }

  /**
   * Writes the 220 and starts TLS in one synchronous step, so no byte of the
   * client's handshake can reach the plaintext reader in between. Plaintext
   * the client pipelined after STARTTLS is discarded (what Postfix does since
   * CVE-2011-0411). False when the handshake failed.
   */
  upgrade(line: string, context: Tls.SecureContext): Effect.Effect<boolean> {
    return Effect.async<boolean>((resume) => {
      const raw = this.raw
      if (raw.destroyed || !raw.writable) return resume(Effect.succeed(false))
      raw.write(line)
      this.detach(raw)
      this.buffer = Buffer.alloc(0)
      const socket = new Tls.TLSSocket(raw, { isServer: true, secureContext: context })
      // A client that refuses the certificate aborts the handshake: that is a
      // test outcome, not a crash of the server.
      socket.on("error", () => {})
      this.socket = socket
      this.attach(socket)
      const onSecure = () => {
        socket.off("close", onClose)
        this.tls = true
        resume(Effect.succeed(true))
      }
      const onClose = () => {
        socket.off("secure", onSecure)
        resume(Effect.succeed(false))
      }
      socket.once("secure", onSecure)
      socket.once("close", onClose)
    })
  }

  /** A graceful close: FIN (after TLS close_notify), the rest when the client closes too. */
  readonly end: Effect.Effect<void> = Effect.sync(() => {
    this.socket.end()
  })

  readonly reset: Effect.Effect<void> = Effect.sync(() => {
    if (!this.raw.destroyed) this.raw.resetAndDestroy()
  })
}

interface MutableConnection {
  readonly id: number
  readonly commands: Array<string>
  readonly faults: Array<Stage>
  tls: boolean
  open: boolean
}

/** How the session goes on after a fault: normally, or not at all. */
type Next = "continue" | "stop"

/**
 * Starts the server on 127.0.0.1, on a free port, for the life of the scope.
 * Closing the scope closes the listener and destroys every connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<MisbehavingServer, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.async<Running>((resume) => {
        const running = new Running(options)
        running.server.listen(0, "127.0.0.1", () => resume(Effect.succeed(running)))
      }),
      (running) => running.shutdown
    ),
    (running) => running.api()
  )

class Running {
  readonly server: Net.Server
  private readonly sockets = new Set<Net.Socket>()
  private readonly fibers = new Set<Fiber.RuntimeFiber<void>>()
  private readonly records: Array<MutableConnection> = []
  private readonly allCommands: Array<string> = []
  private readonly received: Array<ReceivedMessage> = []
  private readonly watchers = new Set<() => void>()
  private readonly limits: Required<{ readonly [K in keyof Limits]: number }>
  private readonly context: Tls.SecureContext | undefined
  private readonly delay: Duration.Duration | undefined

  constructor(readonly options: Options) {
    this.limits = {
      maxLineBytes: options.limits?.maxLineBytes ?? defaults.maxLineBytes,
      maxCommands: options.limits?.maxCommands ?? defaults.maxCommands,
      maxContinuationLines: options.limits?.maxContinuationLines ?? defaults.maxContinuationLines,
      maxStoredBytes: options.limits?.maxStoredBytes ?? defaults.maxStoredBytes
    }
    this.context = options.tls === undefined
      ? undefined
      : Tls.createSecureContext({ key: toPem(options.tls.key), cert: toPem(options.tls.cert) })
    this.delay = options.replyDelay === undefined ? undefined : Duration.decode(options.replyDelay)
    this.server = Net.createServer((socket) => this.accept(socket))
  }

  private changed(): void {
    for (const watcher of [...this.watchers]) watcher()
  }

  private accept(socket: Net.Socket): void {
    const record: MutableConnection = { id: this.records.length + 1, commands: [], faults: [], tls: false, open: true }
    this.records.push(record)
    this.sockets.add(socket)
    // A client that resets the connection must not crash the test process.
    socket.on("error", () => {})
    socket.setNoDelay(true)
    const wire = new Wire(socket)
    // The server's own runtime: live clock, no test services.
    const fiber = Effect.runFork(this.session(wire, record))
    this.fibers.add(fiber)
    fiber.addObserver(() => this.fibers.delete(fiber))
    socket.once("close", () => {
      this.sockets.delete(socket)
      record.open = false
      fiber.unsafeInterruptAsFork(fiber.id())
      this.changed()
    })
    this.changed()
  }

  readonly shutdown: Effect.Effect<void> = Effect.async<void>((resume) => {
    for (const fiber of this.fibers) fiber.unsafeInterruptAsFork(fiber.id())
    for (const socket of this.sockets) socket.destroy()
    this.server.close(() => resume(Effect.void))
  })

  private faultAt(record: MutableConnection, wire: Wire, stage: Stage, command: string): Fault | undefined {
    const plan = this.options.faults
    if (plan === undefined) return undefined
    const fault = typeof plan === "function"
      ? plan({ connection: record.id, stage, command, tls: wire.tls })
      : plan[stage]
    if (fault !== undefined) record.faults.push(stage)
    return fault
  }

  private send(wire: Wire, text: string | Uint8Array): Effect.Effect<boolean> {
    return this.delay === undefined ? wire.write(text) : Effect.zipRight(Effect.sleep(this.delay), wire.write(text))
  }

  /** Carries out a fault; "continue" when the session goes on as usual. */
  private strike(wire: Wire, fault: Fault): Effect.Effect<Next> {
    switch (fault._tag) {
      case "Close":
        return Effect.as(wire.end, "stop" as const)
      case "Reset":
        return Effect.as(wire.reset, "stop" as const)
      case "Stall":
        return Effect.never
      case "Garbage":
        return Effect.zipRight(this.send(wire, fault.bytes), Effect.never)
      case "LongLine":
        return Effect.zipRight(
          this.send(wire, `250 ${"x".repeat(Math.max(0, fault.length - 4))}\r\n`),
          Effect.never
        )
      case "EndlessContinuation": {
        // In batches, each waiting for the OS to take the last: the client's
        // reading speed bounds the memory, the loop limit bounds the time.
        const batch = `${fault.code}-continued without end\r\n`.repeat(64)
        const loop = (sent: number): Effect.Effect<void> =>
          sent >= this.limits.maxContinuationLines
            ? Effect.void
            : Effect.flatMap(wire.write(batch), (ok) => (ok ? loop(sent + 64) : Effect.void))
        return Effect.zipRight(Effect.zipRight(this.delayed, loop(0)), Effect.never)
      }
      case "Reply":
        return Effect.flatMap(
          this.send(wire, withCrlf(fault.text)),
          () => fault.close ? Effect.as(wire.end, "stop" as const) : Effect.succeed("continue" as const)
        )
      case "StartTlsInjection": {
        const ready = "220 2.0.0 ready to start TLS\r\n"
        const injection = fault.split
          ? Effect.zipRight(this.send(wire, ready), wire.write(fault.injected))
          : this.send(wire, `${ready}${fault.injected}`)
        return Effect.zipRight(injection, Effect.never)
      }
    }
  }

  private readonly delayed: Effect.Effect<void> = Effect.suspend(() =>
    this.delay === undefined ? Effect.void : Effect.sleep(this.delay)
  )

  private ehloReply(wire: Wire): string {
    const options = this.options
    const keywords: Array<string> = []
    if (options.pipelining ?? true) keywords.push("PIPELINING")
    keywords.push("8BITMIME", "ENHANCEDSTATUSCODES")
    if (options.chunking === true) keywords.push("CHUNKING")
    if (this.context !== undefined && !wire.tls) keywords.push(options.hideStartTls === true ? "XXXXXXXA" : "STARTTLS")
    if (options.auth !== undefined) {
      const mechanisms = [
        ...(options.auth.password !== undefined ? ["PLAIN", "LOGIN"] : []),
        ...(options.auth.accessToken !== undefined ? ["OAUTHBEARER", "XOAUTH2"] : [])
      ]
      if (mechanisms.length > 0) keywords.push(`AUTH ${mechanisms.join(" ")}`)
    }
    keywords.push(...(options.extensions ?? []))
    return lines(250, ["misbehaving.test", ...keywords])
  }

  /** Runs one SASL exchange; true when the credentials were right. False also when the client left. */
  private authenticate(wire: Wire, record: MutableConnection, line: string): Effect.Effect<boolean> {
    return Effect.gen(this, function*() {
      const expected = this.options.auth
      const [, mechanismWord, initial] = line.split(" ")
      const mechanism = (mechanismWord ?? "").toUpperCase()
      const next = Effect.map(wire.readLine(this.limits.maxLineBytes), (l) => {
        if (typeof l === "string") {
          record.commands.push(l)
          this.allCommands.push(l)
        }
        return typeof l === "string" ? l : undefined
      })
      const response = (prompt: string) =>
        Effect.flatMap(this.send(wire, `334 ${prompt}\r\n`), (ok) => (ok ? next : Effect.succeed(undefined)))
      if (expected === undefined) return false
      if (mechanism === "PLAIN" && expected.password !== undefined) {
        const answer = initial ?? (yield* response(""))
        if (answer === undefined) return false
        const [, user, password] = fromBase64(answer).split("\u0000")
        return user === expected.user && password === expected.password
      }
      if (mechanism === "LOGIN" && expected.password !== undefined) {
        const user = yield* response(toBase64("Username:"))
        if (user === undefined) return false
        const password = yield* response(toBase64("Password:"))
        if (password === undefined) return false
        return fromBase64(user) === expected.user && fromBase64(password) === expected.password
      }
      if ((mechanism === "XOAUTH2" || mechanism === "OAUTHBEARER") && expected.accessToken !== undefined) {
        const answer = initial ?? (yield* response(""))
        if (answer === undefined) return false
        const fields = fromBase64(answer).split("\u0001")
        const user = mechanism === "XOAUTH2"
          ? fields.find((f) => f.startsWith("user="))?.slice(5)
          : /(?:^|,)a=([^,]*)/.exec(fields[0] ?? "")?.[1]?.replace(/=2C/g, ",").replace(/=3D/g, "=")
        const ok = user === expected.user && fields.includes(`auth=Bearer ${expected.accessToken}`)
        if (ok) return true
        // RFC 7628 §3.2.2 / XOAUTH2: an error challenge the client must answer
        // before the final failure.
        yield* response(toBase64(JSON.stringify({ status: "invalid_token", schemes: "bearer" })))
        return false
      }
      return false
    })
  }

  private session(wire: Wire, record: MutableConnection): Effect.Effect<void> {
    const limits = this.limits
    const fault = (stage: Stage, command: string) => this.faultAt(record, wire, stage, command)
    return Effect.gen(this, function*() {
      const greetingFault = fault("greeting", "")
      if (greetingFault !== undefined) {
        if ((yield* this.strike(wire, greetingFault)) === "stop") return
      } else {
        yield* this.send(wire, withCrlf(this.options.greeting ?? "220 misbehaving.test ESMTP ready"))
      }
      let authenticated = false
      let from: string | undefined = undefined
      let to: Array<string> = []
      let chunks: Array<Buffer> = []
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
        this.received.push({
          connection: record.id,
          from: from ?? "",
          to,
          data,
          via,
          tls: wire.tls
        })
        resetTransaction()
      }
      const ok = (text: string) => Effect.asVoid(this.send(wire, text))

      for (let count = 0; count < limits.maxCommands; count++) {
        const line = yield* wire.readLine(limits.maxLineBytes)
        if (line === undefined) return
        if (line === null) {
          yield* this.send(wire, "500 5.5.2 line too long\r\n")
          return yield* wire.end
        }
        record.commands.push(line)
        this.allCommands.push(line)
        const upper = line.toUpperCase()
        const verb = upper.split(" ")[0] ?? ""

        if (verb === "EHLO" || verb === "HELO") {
          const f = fault("ehlo", line)
          if (f !== undefined) {
            if ((yield* this.strike(wire, f)) === "stop") return
            continue
          }
          yield* ok(verb === "EHLO" ? this.ehloReply(wire) : "250 misbehaving.test\r\n")
        } else if (verb === "STARTTLS") {
          const f = fault("starttls", line)
          if (f !== undefined) {
            if ((yield* this.strike(wire, f)) === "stop") return
            continue
          }
          if (this.context === undefined || wire.tls) {
            yield* ok("502 5.5.1 STARTTLS not available\r\n")
            continue
          }
          yield* this.delayed
          const secure = yield* wire.upgrade("220 2.0.0 ready to start TLS\r\n", this.context)
          if (!secure) return
          record.tls = true
          authenticated = false
          resetTransaction()
        } else if (verb === "AUTH") {
          const f = fault("auth", line)
          if (f !== undefined) {
            if ((yield* this.strike(wire, f)) === "stop") return
            continue
          }
          const accepted = yield* this.authenticate(wire, record, line)
          authenticated = accepted
          yield* ok(accepted ? "235 2.7.0 authenticated\r\n" : "535 5.7.8 authentication failed\r\n")
        } else if (upper.startsWith("MAIL FROM:")) {
          const f = fault("mail", line)
          if (f !== undefined) {
            if ((yield* this.strike(wire, f)) === "stop") return
            continue
          }
          if (this.options.auth !== undefined && !authenticated) {
            yield* ok("530 5.7.0 authentication required\r\n")
            continue
          }
          resetTransaction()
          from = /<([^>]*)>/.exec(line)?.[1] ?? ""
          yield* ok("250 2.1.0 sender ok\r\n")
        } else if (upper.startsWith("RCPT TO:")) {
          const f = fault("rcpt", line)
          if (f !== undefined) {
            if ((yield* this.strike(wire, f)) === "stop") return
            continue
          }
          if (from === undefined) {
            yield* ok("503 5.5.1 MAIL first\r\n")
            continue
          }
          to.push(/<([^>]*)>/.exec(line)?.[1] ?? "")
          yield* ok("250 2.1.5 recipient ok\r\n")
        } else if (verb === "DATA") {
          const f = fault("data", line)
          if (f !== undefined) {
            if ((yield* this.strike(wire, f)) === "stop") return
            continue
          }
          if (from === undefined || to.length === 0) {
            yield* ok("554 5.5.1 no valid recipients\r\n")
            continue
          }
          yield* ok("354 end data with <CR><LF>.<CR><LF>\r\n")
          const body: Array<number> = []
          const middle = fault("body", line)
          let complete: boolean
          if (middle !== undefined) {
            // Mid-body: one line of it has arrived when the fault strikes.
            const first = yield* wire.readLine(limits.maxLineBytes)
            if (first === undefined || first === null) return
            if ((yield* this.strike(wire, middle)) === "stop") return
            // The fault replied in mid-body: the rest is read and dropped.
            complete = first === "." || (yield* wire.readData([], 0, true))
            if (!complete) return
            resetTransaction()
            continue
          }
          complete = yield* wire.readData(body, limits.maxStoredBytes, true)
          if (!complete) return
          const end = fault("end", line)
          if (end !== undefined) {
            resetTransaction()
            if ((yield* this.strike(wire, end)) === "stop") return
            continue
          }
          store("DATA", Uint8Array.from(body))
          yield* ok("250 2.0.0 Ok: queued\r\n")
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
          if (middle !== undefined) {
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
            const kept = chunk.subarray(0, limits.maxStoredBytes - chunkBytes)
            chunks.push(Buffer.from(kept))
            chunkBytes += kept.length
          }
          if (from === undefined || to.length === 0) {
            yield* ok("554 5.5.1 no valid recipients\r\n")
            resetTransaction()
            continue
          }
          if (!last) {
            yield* ok("250 2.0.0 chunk accepted\r\n")
            continue
          }
          const end = fault("end", line)
          if (end !== undefined) {
            resetTransaction()
            if ((yield* this.strike(wire, end)) === "stop") return
            continue
          }
          store("BDAT", new Uint8Array(Buffer.concat(chunks)))
          yield* ok("250 2.0.0 Ok: queued\r\n")
        } else if (verb === "RSET") {
          resetTransaction()
          yield* ok("250 2.0.0 ok\r\n")
        } else if (verb === "NOOP") {
          yield* ok("250 2.0.0 ok\r\n")
        } else if (verb === "QUIT") {
          const f = fault("quit", line)
          if (f !== undefined) {
            const next = yield* this.strike(wire, f)
            // Whatever the fault said, QUIT ends the session.
            if (next === "continue") yield* wire.end
            return
          }
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

  api(): MisbehavingServer {
    const address = this.server.address() as AddressInfo
    const snapshot = (): ReadonlyArray<ConnectionRecord> =>
      this.records.map((r) => ({
        id: r.id,
        commands: [...r.commands],
        faults: [...r.faults],
        tls: r.tls,
        open: r.open
      }))
    return {
      host: "127.0.0.1",
      port: address.port,
      openConnections: Effect.sync(() => this.sockets.size),
      acceptedConnections: Effect.sync(() => this.records.length),
      connections: Effect.sync(snapshot),
      commands: Effect.sync(() => [...this.allCommands]),
      messages: Effect.sync(() => [...this.received]),
      awaitOpenConnections: (count, timeout = Duration.seconds(2)) =>
        Effect.async<number>((resume) => {
          if (this.sockets.size === count) return resume(Effect.succeed(count))
          // Wall-clock on purpose: it bounds a wait for real sockets, and must
          // not hang a test that runs on TestClock.
          const watcher = () => {
            if (this.sockets.size === count) finish()
          }
          const finish = () => {
            clearTimeout(timer)
            this.watchers.delete(watcher)
            resume(Effect.succeed(this.sockets.size))
          }
          const timer = setTimeout(finish, Duration.toMillis(Duration.decode(timeout)))
          this.watchers.add(watcher)
          return Effect.sync(() => {
            clearTimeout(timer)
            this.watchers.delete(watcher)
          })
        })
    }
  }
}

const toPem = (value: string | Uint8Array): string | Buffer =>
  typeof value === "string" ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)

/**
 * A fault plan for load tests: on each connection, independently and
 * reproducibly from `seed` and the connection number, MAIL, each RCPT and
 * DATA are answered 4xx with probability `transient` and 5xx with
 * probability `permanent`, and with probability `drop` the connection is
 * closed or reset at a random stage before the end of its message (never
 * after the final dot, so a message the server stored is one the client
 * was told about).
 *
 * @since 0.1.0
 * @category constructors
 */
export const randomFaults = (options: {
  readonly seed: number
  readonly transient?: number | undefined
  readonly permanent?: number | undefined
  readonly drop?: number | undefined
}): (context: FaultContext) => Fault | undefined => {
  const transientP = options.transient ?? 0
  const permanentP = options.permanent ?? 0
  const dropP = options.drop ?? 0
  const dropStages: ReadonlyArray<Stage> = ["greeting", "ehlo", "mail", "rcpt", "data", "body"]
  const plans = new Map<
    number,
    { readonly random: () => number; readonly drop: Stage | undefined; readonly kind: Fault }
  >()
  const planFor = (connection: number) => {
    const existing = plans.get(connection)
    if (existing !== undefined) return existing
    const random = mulberry32((options.seed ^ Math.imul(connection, 0x9e3779b1)) >>> 0)
    const dropped = random() < dropP
    const plan = {
      random,
      drop: dropped ? dropStages[Math.floor(random() * dropStages.length)] : undefined,
      kind: random() < 0.5 ? close : reset
    }
    plans.set(connection, plan)
    return plan
  }
  return (context) => {
    const plan = planFor(context.connection)
    if (plan.drop === context.stage) {
      // One drop per connection; the plan is not needed after it.
      plans.delete(context.connection)
      return plan.kind
    }
    if (context.stage !== "mail" && context.stage !== "rcpt" && context.stage !== "data") return undefined
    const r = plan.random()
    if (r < transientP) return reply(`${context.stage === "rcpt" ? 450 : 451} 4.3.0 random transient failure`)
    if (r < transientP + permanentP) {
      return reply(`${context.stage === "rcpt" ? 550 : 554} 5.7.1 random permanent failure`)
    }
    return undefined
  }
}

/** A small, fast, seedable PRNG (Tommy Ettinger's mulberry32): reproducible load, no dependency. */
const mulberry32 = (seed: number): () => number => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
