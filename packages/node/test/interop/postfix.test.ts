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
import { successReport, volumeTests } from "./cases.js"
import { USER } from "./mail.js"

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
      // From the test user itself: the report comes back into the same Maildir.
      const { envid, report } = yield* successReport(server, "pf-dsn", { from: USER })
      expect(report).toContain("report-type=delivery-status")
      expect(report).toContain(`\nOriginal-Envelope-Id: ${envid}\n`)
      expect(report).toContain(`\nFinal-Recipient: rfc822; ${USER}\n`)
      expect(report).toContain("\nAction: delivered\n")
    }))

  volumeTests(server, "pf", "over BDAT")
})
