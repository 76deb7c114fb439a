import { SmtpAddress } from "@effect-smtp/client"
import { fc, prop } from "@effect-smtp/test-utils/property"
import { describe, expect, it } from "@effect/vitest"

/** The one checker of addresses and text, shared by the client and `@effect-smtp/message`. */

const atext = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]{1,12}$/)
const label = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9-]{0,10}$/)
const address = fc.tuple(
  fc.array(atext, { minLength: 1, maxLength: 3 }),
  fc.array(label, { minLength: 1, maxLength: 3 })
).map(([local, domain]) => `${local.join(".")}@${domain.join(".")}`)

/** RFC 5321 §4.1.2: qtextSMTP (no quote, no backslash, no "<" or ">" here) and quoted-pairSMTP. */
const qcontent = fc.oneof(
  fc.constantFrom(" ", "!", "#", "a", "Z", "0", "@", ".", "[", "]", "~", "é"),
  fc.constantFrom("\\\"", "\\\\", "\\ ", "\\a")
)
const quotedAddress = fc.tuple(
  fc.array(qcontent, { maxLength: 12 }),
  fc.array(label, { minLength: 1, maxLength: 3 })
).map(([local, domain]) => `"${local.join("")}"@${domain.join(".")}`)

/** Anything a reader could take for the end of a line. */
const control = fc.constantFrom(
  "\r",
  "\n",
  "\u0000",
  "\t",
  "\u001b",
  "\u007f",
  "\u0085",
  "\u2028",
  "\u2029"
)

describe("SmtpAddress", () => {
  prop("property: dot-atom addresses with a domain name are accepted", [address], ([a]) => {
    expect(SmtpAddress.checkAddress("to", a)).toBeUndefined()
  })

  prop(
    "property: a control character or line separator anywhere makes an address and a text invalid, naming the field and the position",
    [address, control, fc.nat()],
    ([a, c, at]) => {
      const position = at % (a.length + 1)
      const bad = a.slice(0, position) + c + a.slice(position)
      const error = SmtpAddress.checkAddress("from", bad)
      expect(error?.field).toBe("from")
      expect(error?.reason).toContain(`position ${position}`)
      expect(SmtpAddress.checkText("auth.user", bad)?.field).toBe("auth.user")
    }
  )

  it("brackets, spaces outside quotes, unbalanced quotes, a missing domain and over-long addresses are refused with the reason", () => {
    expect(SmtpAddress.checkAddress("to", "<a@b.c>")?.reason).toContain("\"<\" or \">\"")
    expect(SmtpAddress.checkAddress("to", "a b@c.d")?.reason).toContain("white space")
    expect(SmtpAddress.checkAddress("to", "\"a b\"@c .d")?.reason).toContain("white space")
    expect(SmtpAddress.checkAddress("to", "\"ab@c.d")?.reason).toContain("unbalanced quote")
    expect(SmtpAddress.checkAddress("to", "\"ab\\\"@c.d")?.reason).toContain("unbalanced quote")
    expect(SmtpAddress.checkAddress("to", "\"a\"b\"@c.d")?.reason).toContain("\"john doe\"@example.com")
    expect(SmtpAddress.checkAddress("to", "a\"b@c.d")?.reason).toContain("is not an address")
    expect(SmtpAddress.checkAddress("to", "\"a>b\"@c.d")?.reason).toContain("\"<\" or \">\"")
    expect(SmtpAddress.checkAddress("to", "\"a\u00a0b\"@c.d")?.reason).toContain("white space")
    expect(SmtpAddress.checkAddress("to", "postmaster")?.reason).toContain("user@example.com")
    expect(SmtpAddress.checkAddress("to", `${"a".repeat(250)}@b.cd`)?.reason).toContain("at most 254")
    expect(SmtpAddress.checkAddress("to", "")?.reason).toContain("is empty")
  })

  it("the null reverse-path is allowed only where asked; UTF-8 addresses and address literals are addresses", () => {
    expect(SmtpAddress.checkAddress("from", "", { allowEmpty: true })).toBeUndefined()
    expect(SmtpAddress.checkAddress("to", "δοκιμή@παράδειγμα.ελ")).toBeUndefined()
    expect(SmtpAddress.checkAddress("to", "user@[192.0.2.1]")).toBeUndefined()
    expect(SmtpAddress.isAscii("δοκιμή@example.com")).toBe(false)
  })

  it("quoted local parts as RFC 5321 §4.1.2 writes them are addresses", () => {
    expect(SmtpAddress.checkAddress("to", "\"john doe\"@example.com")).toBeUndefined()
    expect(SmtpAddress.checkAddress("to", "\"john \\\"j\\\" doe\"@example.com")).toBeUndefined()
    expect(SmtpAddress.checkAddress("to", "\"back\\\\slash\"@example.com")).toBeUndefined()
    expect(SmtpAddress.checkAddress("to", "\"a@b\"@example.com")).toBeUndefined()
    expect(SmtpAddress.checkAddress("to", "\"\"@example.com")).toBeUndefined()
    expect(SmtpAddress.checkAddress("to", "\"δοκιμή χρήστη\"@example.com")).toBeUndefined()
  })

  prop(
    "property: a quoted local part of qtextSMTP and quoted-pairs, with a domain, is an address; without its closing quote, or with a control character anywhere, it is not",
    [quotedAddress, control, fc.nat()],
    ([a, c, at]) => {
      expect(SmtpAddress.checkAddress("to", a)).toBeUndefined()
      const close = a.lastIndexOf("\"@")
      expect(SmtpAddress.checkAddress("to", a.slice(0, close) + a.slice(close + 1))?.reason).toMatch(
        /unbalanced quote|is not an address/
      )
      const position = at % (a.length + 1)
      const bad = a.slice(0, position) + c + a.slice(position)
      expect(SmtpAddress.checkAddress("to", bad)?.reason).toContain(`position ${position}`)
    }
  )

  it("an unpaired UTF-16 surrogate is damaged text", () => {
    expect(SmtpAddress.checkText("subject", "a\ud800b")?.reason).toContain("surrogate")
  })
})
