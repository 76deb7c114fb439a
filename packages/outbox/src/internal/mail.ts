import type { SmtpClient } from "@effect-smtp/client"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { MessageRow } from "./rows.js"

/**
 * What is stored of a mail, and the mail every attempt sends from it: the
 * exact bytes, the envelope, and the envelope fields besides (DSN, partial
 * delivery) as a JSON column.
 */

const encoder = new TextEncoder()

/**
 * The exact bytes every attempt will send.
 *
 * @internal
 */
export const bytesOf = <E>(content: SmtpClient.Sendable<E>["content"]): Effect.Effect<Uint8Array, E> => {
  if (typeof content === "string") return Effect.succeed(encoder.encode(content))
  // A copy: the caller may reuse its buffer once enqueue returns.
  if (content instanceof Uint8Array) return Effect.succeed(content.slice())
  return Effect.map(Stream.runCollect(content), (parts) => {
    const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
    let offset = 0
    for (const part of parts) {
      out.set(part, offset)
      offset += part.length
    }
    return out
  })
}

/** The envelope fields besides from/to/content that a send honours. */
interface Extra {
  readonly dsn?: SmtpClient.Mail["dsn"]
  readonly partialDelivery?: SmtpClient.Mail["partialDelivery"]
}

/** @internal */
export const extraOf = <E>(mail: SmtpClient.Sendable<E>): string | undefined => {
  const extra: Extra = "envelope" in mail
    ? { dsn: mail.dsn }
    : { dsn: mail.dsn, partialDelivery: mail.partialDelivery }
  return extra.dsn === undefined && extra.partialDelivery === undefined ? undefined : JSON.stringify(extra)
}

/** @internal */
export const mailOf = (row: MessageRow): SmtpClient.Mail => {
  const extra: Extra = row.extra === undefined ? {} : JSON.parse(row.extra)
  return {
    from: row.from,
    to: row.to,
    content: row.content,
    messageId: row.messageId,
    dsn: extra.dsn,
    partialDelivery: extra.partialDelivery
  }
}

/** @internal */
export const toMillis = (time: DateTime.DateTime | Date | number): number =>
  typeof time === "number" ? time : time instanceof Date ? time.getTime() : DateTime.toEpochMillis(time)
