/**
 * A hand-driven SMTP peer on 127.0.0.1 for the failures smtp-server will not
 * produce on demand: a server that never greets, one that drops the session
 * (FIN or RST) mid-transaction, one that stalls before a reply, a 421.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { AddressInfo } from "node:net"
import * as Net from "node:net"

/** What the server does with one command line. */
export type Action =
  | { readonly _tag: "Reply"; readonly text: string }
  /** Ends the connection cleanly (FIN): the client reads end-of-stream, no OS error. */
  | { readonly _tag: "Close" }
  /** Aborts the connection (RST): the client's next read or write fails with ECONNRESET. */
  | { readonly _tag: "Reset" }
  /** Never answers again; the connection stays open. */
  | { readonly _tag: "Stall" }
  /** Replies after `millis` of real time (a slow server). */
  | { readonly _tag: "Later"; readonly millis: number; readonly text: string }

export const reply = (text: string): Action => ({ _tag: "Reply", text })
export const close: Action = { _tag: "Close" }
export const reset: Action = { _tag: "Reset" }
export const stall: Action = { _tag: "Stall" }
export const later = (millis: number, text: string): Action => ({ _tag: "Later", millis, text })

export interface RawServerOptions {
  /** The greeting; `undefined`: the server accepts the TCP connection and never says a word. */
  readonly greeting?: string | undefined
  /**
   * The action for a command line (`"."` is the end of a DATA body); `undefined`
   * falls back to a minimal server: EHLO without extensions, 250 to
   * MAIL/RCPT/RSET/NOOP, 354 to DATA, 250 to the body, 221 and close to QUIT.
   */
  readonly onCommand?: ((line: string) => Action | undefined) | undefined
}

export interface RawServer {
  readonly port: number
  /** Completes once the server has accepted a connection. */
  readonly accepted: Effect.Effect<void>
  /** Command lines received so far (body lines excluded, the final "." included). */
  readonly commands: ReadonlyArray<string>
  /** Completes once a command starting with `prefix` (case-insensitive) has been received. */
  readonly received: (prefix: string) => Effect.Effect<void>
}

const minimal = (line: string): Action => {
  const verb = line.split(/[ :]/)[0]!.toUpperCase()
  switch (verb) {
    case "EHLO":
    case "HELO":
      return reply("250 raw.test")
    case "DATA":
      return reply("354 go ahead")
    case ".":
      return reply("250 2.0.0 queued")
    case "QUIT":
      return reply("221 2.0.0 bye")
    default:
      return reply("250 2.0.0 ok")
  }
}

export const rawServer = (options: RawServerOptions = {}): Effect.Effect<RawServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: Net.Server; sockets: Set<Net.Socket>; running: RawServer }>((resume) => {
      const sockets = new Set<Net.Socket>()
      const commands: Array<string> = []
      const waiters: Array<{ prefix: string; done: () => void }> = []
      let connections = 0
      const acceptWaiters: Array<() => void> = []
      const notify = (line: string) => {
        commands.push(line)
        for (const waiter of [...waiters]) {
          if (line.toUpperCase().startsWith(waiter.prefix)) {
            waiters.splice(waiters.indexOf(waiter), 1)
            waiter.done()
          }
        }
      }
      const server = Net.createServer((socket) => {
        sockets.add(socket)
        connections++
        acceptWaiters.splice(0).forEach((done) => done())
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => {})
        let buffer = ""
        let inData = false
        let stalled = false
        const act = (line: string) => {
          notify(line)
          const action = options.onCommand?.(line) ?? minimal(line)
          switch (action._tag) {
            case "Reply":
              socket.write(`${action.text}\r\n`)
              if (line.toUpperCase() === "QUIT") socket.end()
              inData = !inData && line.toUpperCase() === "DATA" && action.text.startsWith("354")
              return
            case "Close":
              stalled = true
              socket.end()
              return
            case "Reset":
              stalled = true
              socket.resetAndDestroy()
              return
            case "Stall":
              stalled = true
              return
            case "Later":
              setTimeout(() => socket.writable && socket.write(`${action.text}\r\n`), action.millis)
              return
          }
        }
        socket.on("data", (chunk: Buffer) => {
          buffer += chunk.toString("latin1")
          let end: number
          while (!stalled && (end = buffer.indexOf("\r\n")) !== -1) {
            const line = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            if (inData && line !== ".") continue
            if (inData) inData = false
            act(line)
          }
        })
        if (options.greeting !== undefined) socket.write(`${options.greeting}\r\n`)
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as AddressInfo).port
        resume(Effect.succeed({
          server,
          sockets,
          running: {
            port,
            accepted: Effect.async<void>((done) => {
              if (connections > 0) return done(Effect.void)
              const waiter = () => done(Effect.void)
              acceptWaiters.push(waiter)
              return Effect.sync(() => {
                const i = acceptWaiters.indexOf(waiter)
                if (i !== -1) acceptWaiters.splice(i, 1)
              })
            }),
            commands,
            received: (prefix) =>
              Effect.async<void>((done) => {
                const upper = prefix.toUpperCase()
                if (commands.some((c) => c.toUpperCase().startsWith(upper))) return done(Effect.void)
                const waiter = { prefix: upper, done: () => done(Effect.void) }
                waiters.push(waiter)
                return Effect.sync(() => {
                  const i = waiters.indexOf(waiter)
                  if (i !== -1) waiters.splice(i, 1)
                })
              })
          }
        }))
      })
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ running }) => running))

/** A loopback port nothing listens on: bound, read, and released again. */
export const closedPort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})
