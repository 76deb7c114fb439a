/**
 * The volume cases against the private Postfix of scripts/services/postfix.sh
 * (its message cases are in test/Postfix.test.ts), so the interop matrix has
 * Postfix beside Exim, OpenSMTPD and aiosmtpd. Postfix's local(8) writes LF
 * line ends into the test user's Maildir. Skipped unless EFFECT_SMTP_POSTFIX
 * is set.
 */
import { describe, it } from "@effect/vitest"
import { postfixSkipReason, postfixTarget } from "../utils/postfix.js"
import { pooledBatch, streamedLargeMessage } from "./cases.js"

const target = postfixTarget()

describe("Postfix 3.7 (real MTA): volume", () => {
  if (target === undefined) {
    it.skip(postfixSkipReason, () => {})
    return
  }
  const server = { endpoint: { host: target.host, port: target.port }, maildir: target.maildir, lineEnd: "\n" } as const
  it.live("20 MB streamed over BDAT is stored byte for byte", () => streamedLargeMessage(server, "pf-20mb"), 120_000)
  it.live(
    "200 messages through a pool of 2 are all stored, each intact",
    () => pooledBatch(server, "pf-pool"),
    120_000
  )
})
