/**
 * One in-memory connection of `TestSocket`: the client's `Connection` and the
 * script's `ServerSide`, joined by a buffer each way.
 */
import { SmtpProtocolError, SocketError } from "@effect-smtp/client/SmtpError"
import type { Connection, ConnectOptions, PeerVerification } from "@effect-smtp/client/Socket"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type { ServerSide } from "../TestSocket.js"
import { BodyDecoder, ByteReader } from "./reader.js"

const encoder = new TextEncoder()

/** What travels toward the client: bytes, the end (FIN), or an abort (RST). */
type Delivery = Uint8Array | "end" | "reset"

/**
 * The direction toward the client: a plain buffer and one waiting reader, so
 * reads can be polled and awaited by callback like a real socket's.
 */
class ToClient {
  private readonly buffer: Array<Delivery> = []
  private reader: ((result: Effect.Effect<Uint8Array, SocketError>) => void) | undefined = undefined
  private readEnd: SocketError | undefined = undefined

  constructor(private readonly failure: (operation: "closed" | "read", code?: string) => SocketError) {}

  deliver(chunk: Delivery): void {
    const waiting = this.reader
    if (waiting === undefined) {
      this.buffer.push(chunk)
      return
    }
    this.reader = undefined
    waiting(this.take(chunk))
  }

  private take(chunk: Delivery): Effect.Effect<Uint8Array, SocketError> {
    if (typeof chunk !== "string") return Effect.succeed(chunk)
    this.readEnd = chunk === "end" ? this.failure("closed") : this.failure("read", "ECONNRESET")
    return Effect.fail(this.readEnd)
  }

  /** Whether bytes (not the end) wait unread: plaintext an attacker could have injected before TLS. */
  get holdsBytes(): boolean {
    return this.buffer.some((chunk) => typeof chunk !== "string")
  }

  readonly awaitRead = (resume: (result: Effect.Effect<Uint8Array, SocketError>) => void): () => void => {
    if (this.readEnd !== undefined) {
      resume(Effect.fail(this.readEnd))
      return () => {}
    }
    const buffered = this.buffer.shift()
    if (buffered !== undefined) {
      resume(this.take(buffered))
      return () => {}
    }
    this.reader = resume
    return () => {
      if (this.reader === resume) this.reader = undefined
    }
  }

  readonly poll = (): Uint8Array | undefined => {
    const next = this.buffer[0]
    if (next === undefined || typeof next === "string") return undefined
    this.buffer.shift()
    return next
  }
}

/** One connection's state, shared by its two sides. */
interface Link {
  readonly options: ConnectOptions
  readonly failure: (operation: "closed" | "read" | "write", code?: string) => SocketError
  readonly toClient: ToClient
  /** `null` marks the client's end of its direction. */
  readonly toServer: Queue.Queue<Uint8Array | null>
  tls: boolean
  clientEnded: boolean
  serverEnded: boolean
  wasReset: boolean
}

/**
 * Runs `script` on the server side of a new connection, for the life of the
 * scope, and hands out the client's side.
 *
 * @internal
 */
export const pipe = (
  connectOptions: ConnectOptions,
  address: string,
  script: (server: ServerSide) => Effect.Effect<void, unknown>,
  verification: PeerVerification
): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.gen(function*() {
    const failure = (operation: "closed" | "read" | "write", code?: string) =>
      new SocketError({ operation, host: connectOptions.host, port: connectOptions.port, address, code })
    const link: Link = {
      options: connectOptions,
      failure,
      toClient: new ToClient(failure),
      toServer: yield* Queue.unbounded<Uint8Array | null>(),
      tls: connectOptions.tls !== undefined,
      clientEnded: false,
      serverEnded: false,
      wasReset: false
    }
    const endServer = Effect.sync(() => {
      if (link.serverEnded) return
      link.serverEnded = true
      link.toClient.deliver("end")
    })
    yield* Effect.forkScoped(
      Effect.ensuring(Effect.catchCause(script(serverSide(link)), () => Effect.void), endServer)
    )
    yield* Effect.addFinalizer(() => Queue.offer(link.toServer, null))
    return clientSide(link, address, verification)
  })

/** What the script sees: the client's bytes as lines, counts or a DATA body, and its own writes and reset. */
const serverSide = (link: Link): ServerSide => {
  const { toClient, toServer } = link
  const inbox = new ByteReader(Effect.map(Queue.take(toServer), (chunk) => {
    if (chunk !== null) return chunk
    link.clientEnded = true
    return undefined
  }))
  const closed = () => new Cause.NoSuchElementError("the client closed the connection")
  const orClosed = <A>(effect: Effect.Effect<A | undefined | null>): Effect.Effect<A, Cause.NoSuchElementError> =>
    Effect.flatMap(effect, (a) => (a === undefined || a === null ? Effect.fail(closed()) : Effect.succeed(a)))
  return {
    options: link.options,
    send: (data) =>
      Effect.sync(() => {
        if (!link.serverEnded) toClient.deliver(typeof data === "string" ? encoder.encode(data) : data)
      }),
    readLine: orClosed(inbox.readLine({ maxBytes: Number.POSITIVE_INFINITY, bareLf: false })),
    readBytes: (n) => orClosed(inbox.readBytes(n)),
    readData: Effect.suspend(() => {
      const body = new BodyDecoder(0, true)
      return Effect.flatMap(
        inbox.readData(body),
        (ended) => (ended ? Effect.succeed(body.sent) : Effect.fail(closed()))
      )
    }),
    isTls: Effect.sync(() => link.tls),
    hasPending: Effect.map(Queue.size(toServer), (queued) => inbox.buffered > 0 || queued > 0),
    reset: Effect.sync(() => {
      if (link.serverEnded) return
      link.serverEnded = true
      link.wasReset = true
      toClient.deliver("reset")
    })
  }
}

/** What the client sees: a `Connection` as a real socket's, reads polled or awaited by callback. */
const clientSide = (link: Link, address: string, verification: PeerVerification): Connection => {
  const { options, toClient, toServer } = link
  return {
    host: options.host,
    port: options.port,
    remoteAddress: address,
    remotePort: options.port,
    isTls: Effect.sync(() => link.tls),
    peerVerification: Effect.sync(() => (link.tls ? verification : undefined)),
    read: Effect.callback<Uint8Array, SocketError>((resume) => {
      const cancel = toClient.awaitRead(resume)
      return Effect.sync(cancel)
    }),
    poll: toClient.poll,
    awaitRead: toClient.awaitRead,
    write: (data) =>
      Effect.suspend(() =>
        link.serverEnded || link.clientEnded
          ? Effect.fail(link.failure("write", link.wasReset ? "ECONNRESET" : "EPIPE"))
          : Queue.offer(toServer, data.slice())
      ),
    upgradeTls: () =>
      Effect.suspend(() => {
        if (toClient.holdsBytes && !link.serverEnded) {
          return Effect.fail(
            new SmtpProtocolError({
              reason: "StartTlsInjection",
              detail: "Plaintext bytes were waiting when the TLS handshake began."
            })
          )
        }
        link.tls = true
        return Effect.void
      }),
    close: Effect.suspend(() => {
      link.clientEnded = true
      return Queue.offer(toServer, null)
    })
  } satisfies Connection
}
