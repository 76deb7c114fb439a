/**
 * `SmtpError.isThrottling`, the one test of "the server wants fewer messages"
 * that the client's pause and the outbox share.
 */
import { SmtpError } from "@effect-smtp/client"
import { describe, expect, it } from "@effect/vitest"

const refusal = (statusCode: number, serverMessage: string) =>
  new SmtpError.SmtpCommandError({ command: "MAIL FROM", statusCode, serverMessage })

describe("SmtpError.isThrottling", () => {
  it("holds for a transient refusal that asks for fewer messages", () => {
    expect(SmtpError.isThrottling(refusal(421, "Too many connections from your IP"))).toBe(true)
    expect(SmtpError.isThrottling(refusal(450, "4.7.0 rate limit exceeded"))).toBe(true)
    expect(
      SmtpError.isThrottling(
        new SmtpError.AuthenticationError({ reason: "Rejected", statusCode: 454, serverMessage: "slow down" })
      )
    ).toBe(true)
  })

  it("does not hold for a refusal of this message alone, a permanent one, or anything else", () => {
    expect(SmtpError.isThrottling(refusal(450, "mailbox busy"))).toBe(false)
    expect(SmtpError.isThrottling(refusal(550, "too many recipients"))).toBe(false)
    expect(SmtpError.isThrottling(refusal(452, "too many recipients"))).toBe(false)
    expect(SmtpError.isThrottling({ _tag: "SmtpCommandError", statusCode: 421, serverMessage: "too many" })).toBe(
      false
    )
    expect(SmtpError.isThrottling(new Error("too many"))).toBe(false)
  })
})
