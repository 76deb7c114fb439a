/**
 * DKIM signatures checked by verifiers nobody here wrote: mailauth (npm),
 * dkimpy (Debian python3-dkim) and libopendkim (Debian opendkim, in its
 * test mode). Keys are made at test time by node:crypto, which also makes
 * the public key records the verifiers are served, so a verifier's "pass"
 * does not depend on this package's key handling.
 */
import { SmtpClient, SmtpMetrics, SmtpProtocol, TestSocket } from "@effect-smtp/client"
import { Dkim, DkimError, MailMessage } from "@effect-smtp/message"
import { assert, describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Fs from "node:fs"
import { collect, messageArbitrary, toMessage } from "./utils/messages.js"
import {
  ed25519Key,
  layer as verifiersLayer,
  rsaKey,
  type TestKey,
  type Verdicts,
  Verifiers
} from "./utils/verifiers.js"

const DOMAIN = "example.test"
const rsa = rsaKey(DOMAIN, "rsa2048")
const ed = ed25519Key(DOMAIN, "ed")
const keys = [rsa, ed]

const options = (key: TestKey, more: Partial<Dkim.Options> = {}): Dkim.Options => ({
  domain: key.domain,
  selector: key.selector,
  privateKey: Redacted.make(key.pem),
  ...more
})

const canonicalizations: ReadonlyArray<Dkim.Canonicalization> = [
  "relaxed/relaxed",
  "simple/simple",
  "relaxed/simple",
  "simple/relaxed"
]

const utf8 = new TextEncoder()
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1")

/** Signs in-memory content: the result is bytes. */
const signText = (content: string | Uint8Array, signWith: Dkim.SignWith) =>
  Effect.map(Dkim.sign({ content }, signWith), (signed) => signed.content)

/** Every verifier passed every signature it reports on, and reported on `count` of them (opendkim: the first). */
const expectPass = (verdicts: Verdicts, count: number) => {
  const summary = JSON.stringify(verdicts)
  for (const [name, results] of Object.entries(verdicts)) {
    expect(results.length, `${name}: ${summary}`).toBe(name === "opendkim" ? 1 : count)
    expect(results.every((r) => r.ok), `${name}: ${summary}`).toBe(true)
  }
}

/** Every verifier failed the (single) signature. */
const expectFail = (verdicts: Verdicts) => {
  const summary = JSON.stringify(verdicts)
  for (const [name, results] of Object.entries(verdicts)) {
    expect(results.length, `${name}: ${summary}`).toBe(1)
    expect(results[0]!.ok, `${name}: ${summary}`).toBe(false)
  }
}

/** The tags of the first DKIM-Signature field, unfolded. */
const signatureTags = (message: Uint8Array): Record<string, string> => {
  const field = /^DKIM-Signature:(.*(?:\r\n[ \t].*)*)/m.exec(text(message))
  assert(field !== null)
  return Object.fromEntries(
    field[1]!.replace(/\r\n/g, "").split(";").map((tag) => tag.trim()).filter((tag) => tag !== "").map((tag) => {
      const eq = tag.indexOf("=")
      return [tag.slice(0, eq).trim(), tag.slice(eq + 1).replace(/\s+/g, "")]
    })
  )
}

/**
 * OpenDKIM's test mode feeds header fields to its milter as sendmail before
 * 8.14 did: without the white space after the colon, then "Name: value".
 * A field with no space or several after its colon cannot pass it with simple
 * header canonicalisation, whoever signed it; a real MTA negotiates the
 * spaces away (SMFIP_HDR_LEADSPC). Such messages skip opendkim.
 */
const withoutOpendkim = ({ opendkim: _, ...others }: Verdicts): Verdicts => others

/**
 * Folded header fields (tab and space continuations), runs of white space,
 * white space at the ends of values and lines, 8-bit text, lone CR and LF
 * (sent as CRLF), a dot line, and empty lines at the end of the body.
 */
const trickyMessage = [
  "From: \"Sender  Name\" <sender@example.test>",
  "To: rcpt@example.test,\r\n\t  other@example.test ",
  "Subject: Spaces   inside\tand trailing   ",
  "X-Folded: first\r\n second\r\n\t third\t",
  "Date: Tue, 25 Nov 2025 07:00:00 +0000",
  "Message-ID: <tricky@example.test>",
  "MIME-Version: 1.0",
  "Content-Type: text/plain; charset=utf-8",
  "Content-Transfer-Encoding: 8bit",
  "",
  "a line with trailing spaces   ",
  "\ttabbed\t\tline\t",
  "  ",
  "Grüße, 日本",
  "lone LF here\nand lone CR here\rdone",
  ".",
  "..dots",
  "",
  "",
  ""
].join("\r\n")

const clientLayer = (server: ReturnType<typeof TestSocket.smtpServer>) =>
  SmtpClient.layer({ host: "mail.test", port: 25, security: "none" }).pipe(
    Layer.provide(SmtpProtocol.layer),
    Layer.provide(TestSocket.layer(server.script)),
    Layer.provide(SmtpMetrics.layerNoop)
  )

layer(verifiersLayer, { timeout: 120_000 })("DKIM signatures, checked by real verifiers", (it) => {
  for (const key of keys) {
    for (const canonicalization of canonicalizations) {
      it.effect(`${key.algorithm} ${canonicalization}: every verifier accepts a message with folded headers, trailing white space and lone line breaks`, () =>
        Effect.gen(function*() {
          yield* TestClock.setTime(Date.now())
          const signed = yield* signText(trickyMessage, options(key, { canonicalization }))
          const tags = signatureTags(signed)
          expect(tags.a).toBe(key.algorithm)
          expect(tags.c).toBe(canonicalization)
          expectPass(yield* (yield* Verifiers).verify(signed, keys), 1)
        }))
    }
  }

  it.effect("simple and relaxed: header fields with no space or several after the colon pass mailauth and dkimpy (and OpenDKIM, relaxed)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.now())
      const message = "From:sender@example.test\r\nTo:   rcpt@example.test\r\nSubject:\r\nX-Empty:   \r\n\r\nbody\r\n"
      const verifiers = yield* Verifiers
      for (const canonicalization of canonicalizations) {
        for (const key of keys) {
          const verdicts = yield* verifiers.verify(yield* signText(message, options(key, { canonicalization })), keys)
          expectPass(canonicalization.startsWith("simple") ? withoutOpendkim(verdicts) : verdicts, 1)
        }
      }
    }))

  it.effect("empty bodies, bodies of empty or blank lines, and a message without a body: every verifier accepts both canonicalisations", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.now())
      const head = "From: sender@example.test\r\nTo: rcpt@example.test\r\nSubject: empty\r\n"
      const contents = [
        `${head}\r\n`, // an empty body
        head, // no empty line at all: no body
        `${head}\r\n\r\n\r\n\r\n`, // only empty lines
        `${head}\r\n \t \r\n  \r\n\t\r\n`, // only blank lines: empty when relaxed
        `${head}\r\nno final line break` // the signer adds it, as the client would
      ]
      const verifiers = yield* Verifiers
      const paths: Array<string> = []
      for (const [i, content] of contents.entries()) {
        for (const key of keys) {
          for (const canonicalization of ["simple/simple", "relaxed/relaxed"] as const) {
            const path = verifiers.file(`empty-${i}-${key.selector}-${canonicalization.replace("/", "-")}.eml`)
            Fs.writeFileSync(path, yield* signText(content, options(key, { canonicalization })))
            paths.push(path)
          }
        }
      }
      const all = yield* verifiers.verifyFiles(paths, keys)
      all.forEach((verdicts) => expectPass(verdicts, 1))
      expect(all.length).toBe(contents.length * 4)
    }))

  it.effect("an RSA and an Ed25519 signature on one message (RFC 8463 §4): both verify", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.now())
      const signed = yield* signText(trickyMessage, [options(rsa), options(ed, { canonicalization: "simple/simple" })])
      expect(text(signed).match(/^DKIM-Signature:/gm)?.length).toBe(2)
      expectPass(yield* (yield* Verifiers).verify(signed, keys), 2)
    }))

  it.effect("a changed body, a changed signed field or a second (over-signed) From fails every verifier; an added unsigned field does not", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.now())
      const verifiers = yield* Verifiers
      for (const key of keys) {
        const signed = text(yield* signText(trickyMessage, options(key)))
        const changes: ReadonlyArray<readonly [string, string, boolean]> = [
          ["body", signed.replace("tabbed", "tabbeD"), false],
          ["subject", signed.replace("Subject: Spaces", "Subject: Faces"), false],
          ["second From", signed.replace("\r\n\r\n", "\r\nFrom: forger@example.test\r\n\r\n"), false],
          ["unsigned field", signed.replace("\r\n\r\n", "\r\nX-Added: by a relay\r\n\r\n"), true]
        ]
        for (const [what, message, passes] of changes) {
          expect(message, what).not.toBe(signed)
          const verdicts = yield* verifiers.verify(Buffer.from(message, "latin1"), keys)
          if (passes) expectPass(verdicts, 1)
          else expectFail(verdicts)
        }
      }
    }))

  it.effect("bodyLength (l=): text appended to the body still verifies; without l= it does not", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.now())
      const verifiers = yield* Verifiers
      const footer = "-- \r\nA mailing list's footer\r\n"
      for (const key of keys) {
        for (const canonicalization of ["simple/simple", "relaxed/relaxed"] as const) {
          const withLength = yield* signText(trickyMessage, options(key, { canonicalization, bodyLength: true }))
          expect(Number(signatureTags(withLength).l)).toBeGreaterThan(0)
          expectPass(yield* verifiers.verify(Buffer.concat([withLength, Buffer.from(footer)]), keys), 1)
          const without = yield* signText(trickyMessage, options(key, { canonicalization }))
          expect(signatureTags(without).l).toBeUndefined()
          expectFail(yield* verifiers.verify(Buffer.concat([without, Buffer.from(footer)]), keys))
        }
      }
    }))

  it.effect("t= is the Clock's time; x= (expiresIn) after it: an expired signature fails every verifier, a current one passes", () =>
    Effect.gen(function*() {
      const verifiers = yield* Verifiers
      const now = Date.now()
      yield* TestClock.setTime(now - 3 * 86_400_000)
      const expired = yield* signText(trickyMessage, options(rsa, { expiresIn: "1 day" }))
      const tags = signatureTags(expired)
      expect(Number(tags.t)).toBe(Math.floor((now - 3 * 86_400_000) / 1000))
      expect(Number(tags.x)).toBe(Number(tags.t) + 86_400)
      expectFail(yield* verifiers.verify(expired, keys))
      const current = yield* signText(trickyMessage, options(rsa, { expiresIn: "7 days" }))
      expectPass(yield* verifiers.verify(current, keys), 1)
    }))
})
