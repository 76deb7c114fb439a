/**
 * A real `smtp-server` (npm) on 127.0.0.1, port 0, that counts every
 * delivered message by its Message-ID and records when each arrived: what
 * the demo and the crash and rate-limit tests measure. A message counts only once its
 * final dot arrived and its trailer line is there (a connection cut mid-DATA
 * delivers nothing).
 */
import * as Effect from "effect/Effect"
import type { AddressInfo } from "node:net"
import { SMTPServer } from "smtp-server"

/** The last line of every test message: present only when the whole message arrived. */
export const trailer = "-- end of test message"

export interface Delivery {
  readonly messageId: string
  /** `performance.now()` when the final dot arrived. */
  readonly at: number
}

export interface CountingServer {
  readonly port: number
  readonly deliveries: Array<Delivery>
  /** Deliveries per Message-ID. */
  readonly counts: () => Map<string, number>
  /** `performance.now()` of every MAIL FROM, across connections. */
  readonly mailFrom: Array<number>
}

export const countingServer = (options: {
  /** Milliseconds the final reply is held back, drawn per message (widens the window after the dot). */
  readonly replyDelay?: () => number
} = {}) =>
  Effect.acquireRelease(
    Effect.callback<{ server: SMTPServer; running: CountingServer }>((resume) => {
      const deliveries: Array<Delivery> = []
      const mailFrom: Array<number> = []
      const server = new SMTPServer({
        authOptional: true,
        disabledCommands: ["STARTTLS", "AUTH"],
        logger: false,
        disableReverseLookup: true,
        maxClients: 1000,
        onMailFrom(_address, _session, callback) {
          mailFrom.push(performance.now())
          callback()
        },
        onData(stream, _session, callback) {
          const chunks: Array<Buffer> = []
          stream.on("data", (chunk: Buffer) => chunks.push(chunk))
          stream.on("end", () => {
            const text = Buffer.concat(chunks).toString("latin1")
            const messageId = /^Message-ID:\s*(<[^>]+>)/im.exec(text)?.[1]
            if (messageId !== undefined && text.trimEnd().endsWith(trailer)) {
              deliveries.push({ messageId, at: performance.now() })
            }
            const delay = options.replyDelay?.() ?? 0
            if (delay > 0) setTimeout(() => callback(null), delay)
            else callback(null)
          })
        }
      })
      server.on("error", () => {})
      server.listen(0, "127.0.0.1", () => {
        const port = (server.server.address() as AddressInfo).port
        resume(Effect.succeed({
          server,
          running: {
            port,
            deliveries,
            mailFrom,
            counts: () => {
              const counts = new Map<string, number>()
              for (const d of deliveries) counts.set(d.messageId, (counts.get(d.messageId) ?? 0) + 1)
              return counts
            }
          }
        }))
      })
    }),
    ({ server }) => Effect.callback<void>((resume) => server.close(() => resume(Effect.void)))
  ).pipe(Effect.map(({ running }) => running))

/** The n-th test message of a batch. */
export const testMessage = (batch: string, n: number) => ({
  from: "outbox@example.com",
  to: ["rcpt@example.com"],
  messageId: `<${batch}-${n}@outbox.test>`,
  content:
    `From: outbox@example.com\r\nTo: rcpt@example.com\r\nSubject: ${batch} ${n}\r\nMessage-ID: <${batch}-${n}@outbox.test>\r\n\r\nMessage ${n} of ${batch}.\r\n${trailer}\r\n`
})
