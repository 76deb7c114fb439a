/**
 * The shared `smtp-server` fixture (@effect-smtp/test-utils/smtpServer) as the
 * demo and the crash and rate-limit tests measure it: every delivered message
 * counted by its Message-ID. A message counts only once its final dot arrived
 * and its trailer line is there (a connection cut mid-DATA delivers nothing).
 */
import { type ReceivedMail, smtpServer } from "@effect-smtp/test-utils/smtpServer"
import * as Effect from "effect/Effect"

/** The last line of every test message: present only when the whole message arrived. */
export const trailer = "-- end of test message"

export interface Delivery {
  readonly messageId: string
  /** `performance.now()` when the final dot arrived. */
  readonly at: number
}

export interface CountingServer {
  readonly port: number
  /** The whole messages received so far, in order. */
  readonly deliveries: ReadonlyArray<Delivery>
  /** Deliveries per Message-ID. */
  readonly counts: () => Map<string, number>
  /** `performance.now()` of every MAIL FROM, across connections. */
  readonly mailFrom: ReadonlyArray<number>
}

const delivery = (mail: ReceivedMail): ReadonlyArray<Delivery> => {
  const messageId = /^Message-ID:\s*(<[^>]+>)/im.exec(mail.text)?.[1]
  return messageId !== undefined && mail.text.trimEnd().endsWith(trailer) ? [{ messageId, at: mail.at }] : []
}

export const countingServer = (options: {
  /** Milliseconds the final reply is held back, drawn per message (widens the window after the dot). */
  readonly replyDelay?: () => number
} = {}) =>
  smtpServer({
    ...options,
    // Plain SMTP without AUTH, as the workers' client is configured.
    disabledCommands: ["STARTTLS", "AUTH"],
    maxClients: 1000
  }).pipe(Effect.map((server): CountingServer => ({
    port: server.port,
    mailFrom: server.mailFrom,
    get deliveries() {
      return server.received.flatMap(delivery)
    },
    counts: () => {
      const counts = new Map<string, number>()
      for (const d of server.received.flatMap(delivery)) counts.set(d.messageId, (counts.get(d.messageId) ?? 0) + 1)
      return counts
    }
  })))

/** The n-th test message of a batch. */
export const testMessage = (batch: string, n: number) => ({
  from: "outbox@example.com",
  to: ["rcpt@example.com"],
  messageId: `<${batch}-${n}@outbox.test>`,
  content:
    `From: outbox@example.com\r\nTo: rcpt@example.com\r\nSubject: ${batch} ${n}\r\nMessage-ID: <${batch}-${n}@outbox.test>\r\n\r\nMessage ${n} of ${batch}.\r\n${trailer}\r\n`
})
