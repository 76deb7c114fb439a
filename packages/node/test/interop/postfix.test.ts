/**
 * The volume cases and a DSN success report against the private Postfix of
 * scripts/services/postfix.sh (its other message cases are in
 * test/Postfix.test.ts), so the interop matrix has Postfix beside Exim,
 * OpenSMTPD and aiosmtpd. Postfix's local(8) writes LF line ends into the
 * test user's Maildir. Skipped unless EFFECT_SMTP_POSTFIX is set.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { postfixSkipReason, postfixTarget } from "../utils/postfix.js"
import { pooledBatch, streamedLargeMessage } from "./cases.js"
import { send } from "./client.js"
import { expectStoredCopy, headers, plainBody, takeStored, uniqueToken, USER } from "./mail.js"

const target = postfixTarget()

describe("Postfix 3.7 (real MTA): interop cases", () => {
  if (target === undefined) {
    it.skip(postfixSkipReason, () => {})
    return
  }
  const endpoint = { host: target.host, port: target.port }
  const server = { endpoint, maildir: target.maildir, lineEnd: "\n" } as const

  it.live("NOTIFY=SUCCESS with an ENVID: Postfix's success report names the envelope ID and the recipient", () =>
    Effect.gen(function*() {
      const since = Date.now()
      const token = uniqueToken("pf-dsn")
      const envid = uniqueToken("envid")
      const content = headers(token) + plainBody(token)
      // From the test user itself: the report comes back into the same Maildir.
      yield* send(endpoint, { from: USER, to: [USER], content, dsn: { notify: ["SUCCESS"], envid, ret: "HDRS" } })
      // The report quotes the message's headers, so the token finds both.
      const both = yield* takeStored(target.maildir, token, { since, count: 2 })
      const report = both.find((copy) => copy.toString("utf8").includes(envid))
      const message = both.find((copy) => copy !== report)
      if (report === undefined || message === undefined) {
        return expect.unreachable(`no success report holding ${envid} among the two messages stored`)
      }
      expectStoredCopy(message, content, "\n")
      const text = report.toString("utf8")
      expect(text).toContain("report-type=delivery-status")
      expect(text).toContain(`\nOriginal-Envelope-Id: ${envid}\n`)
      expect(text).toContain(`\nFinal-Recipient: rfc822; ${USER}\n`)
      expect(text).toContain("\nAction: delivered\n")
    }))

  it.live("20 MB streamed over BDAT is stored byte for byte", () => streamedLargeMessage(server, "pf-20mb"), 120_000)
  it.live(
    "200 messages through a pool of 2 are all stored, each intact",
    () => pooledBatch(server, "pf-pool"),
    120_000
  )
})
