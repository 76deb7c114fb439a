/**
 * LMTP (RFC 2033) against a real delivery agent: Dovecot's LMTP service
 * (scripts/services/dovecot.sh) with two mailboxes, one of them over quota,
 * so that the replies after the end of the message differ per recipient.
 * Skipped unless EFFECT_SMTP_DOVECOT_LMTP is set.
 */
import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { hostPortOf, required, startHint } from "./utils/services.js"

const lmtp = hostPortOf("EFFECT_SMTP_DOVECOT_LMTP")

describe("LMTP against Dovecot", () => {
  if (lmtp === undefined) {
    it.skip(startHint("dovecot", "EFFECT_SMTP_DOVECOT_LMTP"), () => {})
    return
  }
  const because = "EFFECT_SMTP_DOVECOT_LMTP"
  const mailbox = required("EFFECT_SMTP_DOVECOT_LMTP_MAILBOX", because)
  const maildir = required("EFFECT_SMTP_DOVECOT_LMTP_MAILDIR", because)
  const full = required("EFFECT_SMTP_DOVECOT_LMTP_FULL_MAILBOX", because)
  const client = NodeSmtp.layer({
    host: lmtp.host,
    port: lmtp.port,
    security: "none",
    protocol: "lmtp",
    timeout: "20 seconds"
  })

  /** The delivered messages in `dir` that contain `token`. */
  const stored = (dir: string, token: string): Array<string> => {
    const found: Array<string> = []
    for (const sub of ["new", "cur"]) {
      const at = Path.join(dir, sub)
      if (!Fs.existsSync(at)) continue
      for (const name of Fs.readdirSync(at)) {
        const text = Fs.readFileSync(Path.join(at, name), "utf8")
        if (text.includes(token)) found.push(text)
      }
    }
    return found
  }

  const message = (token: string, to: ReadonlyArray<string>) => ({
    from: "sender@example.com",
    to,
    content: `From: sender@example.com\r\nTo: ${to.join(", ")}\r\nSubject: ${token}\r\n\r\n${token}\r\n.leading dot\r\n`
  })

  it.effect("two recipients, one over quota: each recipient's own reply after the final dot, in the result", () =>
    Effect.gen(function*() {
      const token = `lmtp-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
      const result = yield* SmtpClient.send(message(token, [mailbox, full, "nobody@localhost"])).pipe(
        Effect.provide(client)
      )
      expect(result.accepted).toEqual([mailbox])
      expect(result.rejected.map((r) => [r.recipient, r.statusCode])).toEqual([
        ["nobody@localhost", 550],
        [full, 552]
      ])
      expect(result.deliveries?.map((d) => [d.recipient, d.statusCode, d.enhancedStatusCode])).toEqual([
        [mailbox, 250, "2.0.0"],
        [full, 552, "5.2.2"]
      ])
      expect(result.deliveries?.[1].message).toMatch(/quota/i)
      const copies = stored(maildir, token)
      expect(copies).toHaveLength(1)
      // Dot-stuffing undone by the server: the line is stored as written.
      expect(copies[0]).toContain("\n.leading dot\n")
    }))

  it.effect("the only recipient over quota: SmtpCommandError 552 naming it, nothing stored for it", () =>
    Effect.gen(function*() {
      const token = `lmtp-full-${Date.now().toString(36)}`
      const error = yield* Effect.flip(SmtpClient.send(message(token, [full])).pipe(Effect.provide(client)))
      expect(error).toBeInstanceOf(SmtpError.SmtpCommandError)
      if (!(error instanceof SmtpError.SmtpCommandError)) return
      expect(error.statusCode).toBe(552)
      expect(error.recipient).toBe(full)
      expect(error.rejectedRecipients?.map((r) => r.recipient)).toEqual([full])
    }))

  it.effect("a pooled batch: every message to the mailbox delivered once, each with its own replies", () =>
    Effect.gen(function*() {
      const token = `lmtp-batch-${Date.now().toString(36)}`
      const results = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => SmtpClient.send(message(`${token}-${i}-`, [mailbox, full])),
        { concurrency: 8 }
      ).pipe(
        Effect.provide(
          NodeSmtp.layer({
            host: lmtp.host,
            port: lmtp.port,
            security: "none",
            protocol: "lmtp",
            timeout: "20 seconds",
            pool: { maxConnections: 2 }
          })
        )
      )
      expect(results.every((r) => r.accepted.length === 1 && r.rejected.length === 1)).toBe(true)
      for (let i = 0; i < 20; i++) expect(stored(maildir, `${token}-${i}-`)).toHaveLength(1)
    }))
})
