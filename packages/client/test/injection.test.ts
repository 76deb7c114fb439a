import { SmtpClient, SmtpError } from "@effect-smtp/client"
import { effectProp, fc } from "@effect-smtp/test-utils/property"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

/** Text with at least one C0 control character or DEL somewhere in it. */
const withControl = fc.tuple(
  fc.string({ maxLength: 20 }),
  fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.constant(0x7f)).map((c) => String.fromCharCode(c)),
  fc.string({ maxLength: 20 })
).map(([a, c, b]) => `${a}${c}${b}`)

const run = (
  mail: SmtpClient.Mail,
  options: Partial<SmtpClient.Options>
) =>
  Effect.gen(function*() {
    let connects = 0
    const server = TestSocket.smtpServer({ capabilities: ["AUTH PLAIN", "DSN", "PIPELINING"] })
    const error = yield* Effect.flip(SmtpClient.send(mail)).pipe(
      Effect.provide(
        scriptedClient(server.script, { host: "mail.test", port: 25, security: "none", ...options }, {
          beforeConnect: () =>
            Effect.sync(() => {
              connects++
            })
        })
      )
    )
    return { error, connects }
  })

const good = { from: "a@example.com", to: ["b@example.com"], content: "Subject: x\r\n\r\nx\r\n" }

describe("command injection is impossible", () => {
  const fields: ReadonlyArray<
    readonly [string, (bad: string) => { mail: SmtpClient.Mail; options: Partial<SmtpClient.Options> }]
  > = [
    ["from", (bad) => ({ mail: { ...good, from: bad }, options: {} })],
    ["to", (bad) => ({ mail: { ...good, to: ["ok@example.com", bad] }, options: {} })],
    ["ehloName", (bad) => ({ mail: good, options: { ehloName: bad } })],
    ["auth.user", (bad) => ({ mail: good, options: { auth: { user: bad, password: Redacted.make("pw") } } })],
    ["dsn.envid", (bad) => ({ mail: { ...good, dsn: { envid: bad } }, options: {} })]
  ]
  for (const [field, build] of fields) {
    effectProp(
      `any ${field} holding CR, LF, NUL, another C0 control or DEL fails with InvalidInputError and nothing is sent`,
      [withControl],
      ([bad]) =>
        Effect.gen(function*() {
          const { mail, options } = build(bad)
          const { connects, error } = yield* run(mail, options)
          expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
          expect((error as SmtpError.InvalidInputError).field).toBe(field)
          expect(connects).toBe(0)
        }),
      { fastCheck: { numRuns: 100 } }
    )
  }

  it.effect("a well-formed message through the same path is sent (the checks are not vacuous)", () =>
    Effect.gen(function*() {
      const result = yield* Effect.result(run(good, {}))
      // run() flips: a Failure here means the send succeeded.
      expect(result._tag).toBe("Failure")
    }))

  effectProp(
    "DSN ENVID and ORCPT reach the wire xtext-encoded: only printable ASCII without + and =, hex for the rest",
    [fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s))],
    ([envid]) =>
      Effect.gen(function*() {
        const server = TestSocket.smtpServer({ capabilities: ["DSN", "SMTPUTF8"] })
        yield* SmtpClient.send({ ...good, dsn: { envid, notify: ["FAILURE"] } }).pipe(
          Effect.provide(
            scriptedClient(server.script, { host: "mail.test", port: 25, security: "none" })
          )
        )
        const mailLine = server.commands.find((c) => c.startsWith("MAIL FROM"))!
        const encoded = /ENVID=(\S+)/.exec(mailLine)?.[1]
        expect(encoded).toMatch(/^(?:[!-*,-<>-~]|\+[0-9A-F]{2})+$/)
        const decoded = new TextDecoder().decode(
          Uint8Array.from(
            encoded!.match(/\+[0-9A-F]{2}|[^+]/g)!.map((t) =>
              t.startsWith("+") ? parseInt(t.slice(1), 16) : t.charCodeAt(0)
            )
          )
        )
        expect(decoded).toBe(envid)
        expect(server.commands.find((c) => c.startsWith("RCPT"))).toBe(
          "RCPT TO:<b@example.com> NOTIFY=FAILURE ORCPT=rfc822;b@example.com"
        )
      }),
    { fastCheck: { numRuns: 100 } }
  )
})
