/**
 * An in-memory `Socket` whose server side is a script: an Effect that reads
 * what the client writes and answers. No network, so protocol tests run
 * under `TestClock`, and an application's tests can script any server.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import { SmtpProtocolError, SocketError } from "./SmtpError.js"
import { outcomeOf, SmtpMetrics } from "./SmtpMetrics.js"
import { type Connection, type ConnectOptions, Socket } from "./Socket.js"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * The server's end of one connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerSide {
  /** What the client asked to connect to. */
  readonly options: ConnectOptions
  /** Sends bytes to the client (text is UTF-8 encoded). */
  readonly send: (data: string | Uint8Array) => Effect.Effect<void>
  /** The next line the client wrote, without CRLF. Fails when the client closed. */
  readonly readLine: Effect.Effect<string, Cause.NoSuchElementException>
  /** Exactly `n` bytes the client wrote (BDAT chunks). */
  readonly readBytes: (n: number) => Effect.Effect<Uint8Array, Cause.NoSuchElementException>
  /** The bytes of a DATA body up to and including `CRLF.CRLF`, as sent (dot-stuffed). */
  readonly readData: Effect.Effect<Uint8Array, Cause.NoSuchElementException>
  /** Whether the client has started TLS (STARTTLS) on this connection. */
  readonly isTls: Effect.Effect<boolean>
  /** Whether bytes from the client are waiting to be read (a pipelined command, say). */
  readonly hasPending: Effect.Effect<boolean>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The peer IP the connection reports (default `127.0.0.1`). */
  readonly remoteAddress?: string | undefined
  /**
   * Runs before each connection is made: fail to refuse it, sleep to make it
   * slow. Its duration counts as the TCP connect.
   */
  readonly beforeConnect?: ((options: ConnectOptions) => Effect.Effect<void, SocketError>) | undefined
}

const closedError = (options: ConnectOptions, address: string, operation: "closed" | "write" | "connect") =>
  new SocketError({ operation, host: options.host, port: options.port, address })

/**
 * A `Socket` whose every connection is served by `script`. The connection
 * closes (for the client: the peer closed) when the script ends.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  script: (server: ServerSide) => Effect.Effect<void, unknown>,
  options: Options = {}
): Layer.Layer<Socket> =>
  Layer.effect(
    Socket,
    Effect.map(Effect.serviceOption(SmtpMetrics), (metrics) => ({
      connect: (connectOptions) =>
        Effect.gen(function*() {
          const address = options.remoteAddress ?? "127.0.0.1"
          const started = yield* Clock.currentTimeNanos
          const record = (exit: Exit.Exit<unknown, SocketError>) =>
            Option.match(metrics, {
              onNone: () => Effect.void,
              onSome: (m) =>
                Effect.flatMap(Clock.currentTimeNanos, (now) =>
                  m.socketConnect({
                    serverAddress: connectOptions.host,
                    serverPort: connectOptions.port,
                    peerAddress: address,
                    durationMs: Number(now - started) / 1e6,
                    outcome: outcomeOf(exit, () => closedError(connectOptions, address, "connect"))
                  }))
            })
          yield* (options.beforeConnect?.(connectOptions) ?? Effect.void).pipe(Effect.onExit(record))
          return yield* pipe(connectOptions, address, script)
        })
    }))
  )

const pipe = (
  connectOptions: ConnectOptions,
  address: string,
  script: (server: ServerSide) => Effect.Effect<void, unknown>
) =>
  Effect.gen(function*() {
    // `null` marks the end of a direction. Toward the client, a plain buffer
    // and one waiting reader, so reads can be polled and awaited by callback
    // like a real socket's.
    const toClient: Array<Uint8Array | null> = []
    let reader: ((result: Effect.Effect<Uint8Array, SocketError>) => void) | undefined = undefined
    const deliver = (chunk: Uint8Array | null) => {
      const waiting = reader
      if (waiting === undefined) {
        toClient.push(chunk)
        return
      }
      reader = undefined
      waiting(takeChunk(chunk))
    }
    let readClosed = false
    const takeChunk = (chunk: Uint8Array | null): Effect.Effect<Uint8Array, SocketError> => {
      if (chunk !== null) return Effect.succeed(chunk)
      readClosed = true
      return Effect.fail(closedError(connectOptions, address, "closed"))
    }
    const toServer = yield* Queue.unbounded<Uint8Array | null>()
    let tls = connectOptions.tls !== undefined
    let clientEnded = false
    let serverEnded = false

    let inbox = new Uint8Array(0)
    const append = (chunk: Uint8Array) => {
      const next = new Uint8Array(inbox.length + chunk.length)
      next.set(inbox, 0)
      next.set(chunk, inbox.length)
      inbox = next
    }
    /** Reads from the client until `found` returns an end offset. */
    const readUntil = (
      found: (buffer: Uint8Array) => number
    ): Effect.Effect<Uint8Array, Cause.NoSuchElementException> =>
      Effect.suspend(() => {
        const end = found(inbox)
        if (end >= 0) {
          const taken = inbox.slice(0, end)
          inbox = inbox.slice(end)
          return Effect.succeed(taken)
        }
        return Effect.flatMap(Queue.take(toServer), (chunk) => {
          if (chunk === null) {
            clientEnded = true
            return Effect.fail(new Cause.NoSuchElementException("the client closed the connection"))
          }
          append(chunk)
          return readUntil(found)
        })
      })

    const server: ServerSide = {
      options: connectOptions,
      send: (data) =>
        Effect.suspend(() =>
          serverEnded ? Effect.void : Effect.sync(() => deliver(typeof data === "string" ? encoder.encode(data) : data))
        ),
      readLine: Effect.map(
        readUntil((b) => {
          const i = indexOfCrlf(b, 0)
          return i === -1 ? -1 : i + 2
        }),
        (line) => decoder.decode(line.subarray(0, line.length - 2))
      ),
      readBytes: (n) => readUntil((b) => (b.length >= n ? n : -1)),
      readData: readUntil((b) => {
        if (b.length >= 3 && b[0] === 0x2e && b[1] === 0x0d && b[2] === 0x0a) return 3
        const i = indexOf(b, terminator)
        return i === -1 ? -1 : i + terminator.length
      }),
      isTls: Effect.sync(() => tls),
      hasPending: Effect.map(Queue.size(toServer), (queued) => inbox.length > 0 || queued > 0)
    }

    const endServer = Effect.suspend(() => {
      serverEnded = true
      return Effect.sync(() => deliver(null))
    })
    yield* Effect.forkScoped(
      Effect.ensuring(Effect.catchAllCause(script(server), () => Effect.void), endServer)
    )
    yield* Effect.addFinalizer(() => Queue.offer(toServer, null))

    const awaitRead = (resume: (result: Effect.Effect<Uint8Array, SocketError>) => void): () => void => {
      if (readClosed) {
        resume(Effect.fail(closedError(connectOptions, address, "closed")))
        return () => {}
      }
      const buffered = toClient.shift()
      if (buffered !== undefined) {
        resume(takeChunk(buffered))
        return () => {}
      }
      reader = resume
      return () => {
        if (reader === resume) reader = undefined
      }
    }
    const connection: Connection = {
      host: connectOptions.host,
      port: connectOptions.port,
      remoteAddress: address,
      remotePort: connectOptions.port,
      isTls: Effect.sync(() => tls),
      read: Effect.async<Uint8Array, SocketError>((resume) => {
        const cancel = awaitRead(resume)
        return Effect.sync(cancel)
      }),
      poll: () => {
        const next = toClient[0]
        if (next === undefined || next === null) return undefined
        toClient.shift()
        return next
      },
      awaitRead,
      write: (data) =>
        Effect.suspend(() =>
          serverEnded || clientEnded
            ? Effect.fail(
              new SocketError({
                operation: "write",
                host: connectOptions.host,
                port: connectOptions.port,
                address,
                code: "EPIPE"
              })
            )
            : Queue.offer(toServer, data.slice())
        ),
      upgradeTls: () =>
        Effect.suspend(() => {
          if (toClient.some((chunk) => chunk !== null) && !serverEnded) {
            return Effect.fail(
              new SmtpProtocolError({
                reason: "StartTlsInjection",
                detail: "Plaintext bytes were waiting when the TLS handshake began."
              })
            )
          }
          tls = true
          return Effect.void
        }),
      close: Effect.suspend(() => {
        clientEnded = true
        return Queue.offer(toServer, null)
      })
    }
    return connection
  })

const terminator = encoder.encode("\r\n.\r\n")

const indexOfCrlf = (b: Uint8Array, from: number): number => {
  for (let i = from; i + 1 < b.length; i++) if (b[i] === 0x0d && b[i + 1] === 0x0a) return i
  return -1
}

const indexOf = (haystack: Uint8Array, needle: Uint8Array): number => {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

/**
 * A message the scripted SMTP server received.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedMessage {
  readonly from: string
  readonly to: ReadonlyArray<string>
  /** The body as the server stores it: dot-stuffing undone, terminator removed. */
  readonly data: Uint8Array
  readonly via: "DATA" | "BDAT"
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SmtpServerConfig {
  /** EHLO keywords (default PIPELINING, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, SIZE 10485760). */
  readonly capabilities?: ReadonlyArray<string> | undefined
  /** The reply to a RCPT TO, or `undefined` to accept (default: accept all). */
  readonly rcpt?: ((address: string) => string | undefined) | undefined
  /** Accepted credentials for AUTH PLAIN and LOGIN; for XOAUTH2 the password is the valid token. */
  readonly credentials?: { readonly user: string; readonly password: string } | undefined
}

/**
 * A small, well-behaved SMTP server script for `layer`, and what it received.
 *
 * @since 0.1.0
 * @category constructors
 */
export const smtpServer = (config: SmtpServerConfig = {}): {
  readonly script: (server: ServerSide) => Effect.Effect<void, unknown>
  readonly received: ReadonlyArray<ReceivedMessage>
  readonly commands: ReadonlyArray<string>
  /** Bodies whose end arrived with the next command already behind it (RFC 2920 §3.1). */
  readonly pipelinedAfterBody: () => number
} => {
  let pipelinedAfterBody = 0
  const received: Array<ReceivedMessage> = []
  const commands: Array<string> = []
  const capabilities = config.capabilities ??
    ["PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "SIZE 10485760"]
  const ehloReply = (tls: boolean) => {
    const lines = ["test.invalid", ...capabilities.filter((c) => !(tls && c === "STARTTLS"))]
    return lines.map((l, i) => `250${i === lines.length - 1 ? " " : "-"}${l}\r\n`).join("")
  }
  const script = (server: ServerSide) =>
    Effect.gen(function*() {
      yield* server.send("220 test.invalid ESMTP ready\r\n")
      let from: string | undefined
      let to: Array<string> = []
      let chunks: Array<Uint8Array> = []
      const reset = () => {
        from = undefined
        to = []
        chunks = []
      }
      while (true) {
        const line = yield* server.readLine
        commands.push(line.startsWith("AUTH") ? line.split(" ").slice(0, 2).join(" ") : line)
        const verb = line.split(" ")[0].toUpperCase()
        if (verb === "EHLO") {
          yield* server.send(ehloReply(yield* server.isTls))
        } else if (verb === "HELO") {
          yield* server.send("250 test.invalid\r\n")
        } else if (verb === "STARTTLS") {
          yield* server.send("220 2.0.0 ready to start TLS\r\n")
        } else if (verb === "AUTH") {
          const ok = yield* authenticate(server, line, config.credentials)
          yield* server.send(ok ? "235 2.7.0 accepted\r\n" : "535 5.7.8 authentication failed\r\n")
        } else if (line.toUpperCase().startsWith("MAIL FROM:")) {
          reset()
          from = /<([^>]*)>/.exec(line)?.[1] ?? ""
          yield* server.send("250 2.1.0 ok\r\n")
        } else if (line.toUpperCase().startsWith("RCPT TO:")) {
          const address = /<([^>]*)>/.exec(line)?.[1] ?? ""
          const refusal = config.rcpt?.(address)
          if (refusal === undefined) to.push(address)
          yield* server.send(refusal !== undefined ? `${refusal}\r\n` : "250 2.1.5 ok\r\n")
        } else if (verb === "DATA") {
          if (from === undefined || to.length === 0) {
            yield* server.send("554 5.5.1 no valid recipients\r\n")
            continue
          }
          yield* server.send("354 go ahead\r\n")
          const raw = yield* server.readData
          if (yield* server.hasPending) pipelinedAfterBody++
          received.push({ from, to, data: unstuff(raw), via: "DATA" })
          reset()
          yield* server.send("250 2.0.0 Ok: queued as TEST1\r\n")
        } else if (verb === "BDAT") {
          const [, size, last] = line.split(" ")
          chunks.push(yield* server.readBytes(Number(size)))
          if (last?.toUpperCase() === "LAST") {
            received.push({ from: from ?? "", to, data: joinChunks(chunks), via: "BDAT" })
            reset()
            yield* server.send("250 2.0.0 Ok: queued as TEST2\r\n")
          } else {
            yield* server.send("250 2.0.0 chunk ok\r\n")
          }
        } else if (verb === "RSET") {
          reset()
          yield* server.send("250 2.0.0 ok\r\n")
        } else if (verb === "NOOP") {
          yield* server.send("250 2.0.0 ok\r\n")
        } else if (verb === "QUIT") {
          yield* server.send("221 2.0.0 bye\r\n")
          return
        } else {
          yield* server.send("502 5.5.2 command not recognised\r\n")
        }
      }
    })
  return { script, received, commands, pipelinedAfterBody: () => pipelinedAfterBody }
}

const authenticate = (
  server: ServerSide,
  line: string,
  credentials: SmtpServerConfig["credentials"]
) =>
  Effect.gen(function*() {
    const [, mechanism, initial] = line.split(" ")
    const expected = credentials ?? { user: "user", password: "pass" }
    if (mechanism?.toUpperCase() === "PLAIN") {
      const response = initial ?? (yield* Effect.zipRight(server.send("334 \r\n"), server.readLine))
      return atob(response) === `\u0000${expected.user}\u0000${expected.password}`
    }
    if (mechanism?.toUpperCase() === "XOAUTH2") {
      // The password stands for the one valid access token.
      const ok = initial !== undefined &&
        atob(initial) === `user=${expected.user}\u0001auth=Bearer ${expected.password}\u0001\u0001`
      if (ok) return true
      // RFC 7628-style failure: a JSON challenge, the client's empty answer, then 535.
      yield* server.send(`334 ${btoa(JSON.stringify({ status: "401", schemes: "bearer" }))}\r\n`)
      yield* server.readLine
      return false
    }
    if (mechanism?.toUpperCase() === "LOGIN") {
      yield* server.send(`334 ${btoa("Username:")}\r\n`)
      const user = atob(yield* server.readLine)
      yield* server.send(`334 ${btoa("Password:")}\r\n`)
      const password = atob(yield* server.readLine)
      return user === expected.user && password === expected.password
    }
    return false
  })

/** Undoes dot-stuffing and drops the terminator of a DATA body. */
const unstuff = (raw: Uint8Array): Uint8Array => {
  const body = raw.subarray(0, raw.length - 3) // ".\r\n"
  const out = new Uint8Array(body.length)
  let o = 0
  let atLineStart = true
  for (let i = 0; i < body.length; i++) {
    const b = body[i]
    if (atLineStart && b === 0x2e) {
      atLineStart = false
      continue
    }
    out[o++] = b
    atLineStart = b === 0x0a && i > 0 && body[i - 1] === 0x0d
  }
  return out.slice(0, o)
}

const joinChunks = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let o = 0
  for (const c of chunks) {
    out.set(c, o)
    o += c.length
  }
  return out
}
