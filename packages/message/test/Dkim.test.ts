/**
 * DKIM signatures checked by verifiers nobody here wrote: mailauth (npm),
 * dkimpy (Debian python3-dkim) and libopendkim (Debian opendkim, in its
 * test mode). Keys are made at test time by node:crypto, which also makes
 * the public key records the verifiers are served, so a verifier's "pass"
 * does not depend on this package's key handling.
 */
import { SmtpClient } from "@effect-smtp/client"
import { Dkim, DkimError, MailMessage } from "@effect-smtp/message"
import { effectProp, fc } from "@effect-smtp/test-utils/property"
import { scriptedClient } from "@effect-smtp/test-utils/scriptedClient"
import { TestSocket } from "@effect-smtp/testing"
import { assert, describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
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
 * 8.14 did: the white space after the colon dropped, then "Name: value"
 * rebuilt. With simple header canonicalisation, a field with no space after
 * its colon, or more than one, cannot pass it, whoever signed it (a real MTA
 * negotiates this away: SMFIP_HDR_LEADSPC). So opendkim's verdict is only
 * taken where its test mode reads the message as it is.
 */
const applicable = (verdicts: Verdicts, message: Uint8Array, canonicalization: Dkim.Canonicalization): Verdicts => {
  if (canonicalization.startsWith("relaxed")) return verdicts
  const header = text(message).split("\r\n\r\n")[0]!
  const values = header.split(/\r\n(?![ \t])/).map((field) => field.slice(field.indexOf(":") + 1))
  const rebuiltAlike = values.every((value) => value === " " || /^ [^ \t\r\n]/.test(value))
  if (rebuiltAlike) return verdicts
  const { opendkim: _, ...others } = verdicts
  return others
}

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
  scriptedClient(server.script, { host: "mail.test", port: 25, security: "none" })

/**
 * The block below builds the verifiers into this memo map; its properties run
 * outside the block's `it` (fast-check's values are not Schemas), and take the
 * same verifiers from it rather than starting another set per run.
 */
const memoMap = Layer.makeMemoMapUnsafe()
const withVerifiers = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(verifiersLayer), Effect.provideService(Layer.CurrentMemoMap, memoMap))

layer(verifiersLayer, { timeout: 120_000, memoMap })("DKIM signatures, checked by real verifiers", (it) => {
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
          const signed = yield* signText(message, options(key, { canonicalization }))
          const verdicts = yield* verifiers.verify(signed, keys)
          expect(Object.keys(applicable(verdicts, signed, canonicalization)).includes("opendkim")).toBe(
            canonicalization.startsWith("relaxed") && verifiers.names.includes("opendkim")
          )
          expectPass(applicable(verdicts, signed, canonicalization), 1)
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

  it.effect(
    "a 20 MB streamed attachment: signing reads it once, sending once more, and every verifier accepts both algorithms and canonicalisations",
    () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.now())
        const verifiers = yield* Verifiers
        const chunkSize = 64 * 1024
        const chunks = 320 // 20 MiB
        const pattern = new Uint8Array(chunkSize).map((_, j) => (j * 131 + 7) & 0xff)
        let runs = 0
        const attachment = Stream.suspend(() => {
          runs++
          return Stream.range(1, chunks, 1).pipe(Stream.map((i) => {
            const chunk = pattern.slice()
            chunk[0] = i & 0xff
            chunk[1] = i >> 8
            return chunk
          }))
        })
        const pairs = [
          [options(rsa), options(ed, { canonicalization: "simple/simple" })],
          [options(ed), options(rsa, { canonicalization: "simple/simple" })]
        ]
        for (const [i, signWith] of pairs.entries()) {
          runs = 0
          const composed = yield* MailMessage.compose({
            from: "sender@example.test",
            to: "rcpt@example.test",
            subject: "A large attachment",
            text: "See the attachment.",
            attachments: [{ filename: "large.bin", content: attachment }],
            dkim: signWith
          })
          expect(runs).toBe(1)
          const path = verifiers.file(`large-${i}.eml`)
          const fd = Fs.openSync(path, "w")
          let octets = 0
          yield* Stream.runForEach(composed.content, (chunk) =>
            Effect.sync(() => {
              octets += chunk.length
              Fs.writeSync(fd, chunk)
            })).pipe(Effect.ensuring(Effect.sync(() => Fs.closeSync(fd))))
          expect(runs).toBe(2)
          // 20 MiB in base64 lines: 4/3 of it, plus a CRLF per 76 characters.
          expect(octets).toBeGreaterThan(chunks * chunkSize * 4 / 3)
          expectPass(yield* verifiers.verifyFile(path, keys), 2)
        }
      }),
    { timeout: 300_000 }
  )

  it.effect("a message up to 1 MiB is read once: the signed content is kept from the signing read", () =>
    Effect.gen(function*() {
      let runs = 0
      const attachment = Stream.suspend(() => {
        runs++
        return Stream.make(new Uint8Array(100_000).fill(65))
      })
      const composed = yield* MailMessage.compose({
        from: "sender@example.test",
        to: "rcpt@example.test",
        attachments: [{ filename: "a.bin", content: attachment }],
        dkim: options(ed)
      })
      const first = yield* collect(composed.content)
      const second = yield* collect(composed.content)
      expect(runs).toBe(1)
      expect(text(second)).toBe(text(first))
      expectPass(yield* (yield* Verifiers).verify(first, keys), 1)
    }))

  for (const chunking of [false, true]) {
    it.effect(`a signed 1.5 MB message sent through SmtpClient (${chunking ? "BDAT" : "DATA, dot-stuffed"}) verifies as the server received it`, () => {
      const server = TestSocket.smtpServer({
        capabilities: ["PIPELINING", "8BITMIME", "SIZE 10485760", ...(chunking ? ["CHUNKING"] : [])],
        // The whole message is kept, to be verified as received.
        limits: { maxStoredBytes: 4 * 1024 * 1024 }
      })
      return Effect.gen(function*() {
        yield* TestClock.setTime(Date.now())
        const message: MailMessage.MailMessage = {
          from: "sender@example.test",
          to: "rcpt@example.test",
          subject: "Dots and a large attachment",
          text: ".\n..\n.a line that starts with a dot\nFrom the start of a line\n",
          attachments: [{
            filename: "data.bin",
            content: Stream.range(1, 24).pipe(Stream.map((i) => new Uint8Array(65536).fill(i)))
          }]
        }
        const signWith = [options(rsa), options(ed, { canonicalization: "simple/simple" })]
        // Both ways to sign: the composer's option, and Dkim.sign on a composed message.
        const composed = chunking
          ? yield* MailMessage.compose({ ...message, dkim: undefined }).pipe(Effect.flatMap(Dkim.sign(signWith)))
          : yield* MailMessage.compose({ ...message, dkim: signWith })
        yield* SmtpClient.send(composed)
        expect(server.received.length).toBe(1)
        expect(server.received[0]!.via).toBe(chunking ? "BDAT" : "DATA")
        expectPass(yield* (yield* Verifiers).verify(server.received[0]!.data, keys), 2)
      }).pipe(Effect.provide(clientLayer(server)))
    })
  }

  for (const chunking of [false, true]) {
    it.effect(`content that reads differently when sent fails with DkimContentError before its end: nothing is delivered (${chunking ? "BDAT" : "DATA"})`, () => {
      const server = TestSocket.smtpServer({
        capabilities: ["PIPELINING", "8BITMIME", "SIZE 10485760", ...(chunking ? ["CHUNKING"] : [])]
      })
      return Effect.gen(function*() {
        let runs = 0
        // 2 MiB, one byte of it different on every run: a file rewritten between the two reads.
        const changing = Stream.suspend(() => {
          runs++
          return Stream.range(1, 32).pipe(Stream.map((i) => new Uint8Array(65536).fill(i === 20 ? runs : 0)))
        })
        // An iterator can be read once: the second run of its stream is empty.
        const iterator = (async function*() {
          for (let i = 0; i < 32; i++) yield new Uint8Array(65536).fill(i)
        })()
        const once = Stream.fromAsyncIterable(iterator, (e) => new Error(String(e)))
        for (const content of [changing, once]) {
          const composed = yield* MailMessage.compose({
            from: "sender@example.test",
            to: "rcpt@example.test",
            attachments: [{ filename: "changing.bin", content }],
            dkim: options(rsa)
          })
          const error = yield* Effect.flip(SmtpClient.send(composed))
          assert(error instanceof DkimError.DkimContentError, String(error))
          expect(error.reason).toBe("Changed")
          expect(error.message).toContain("not delivered")
        }
        expect(server.received.length).toBe(0)
      }).pipe(Effect.provide(clientLayer(server)))
    })
  }

  const signingOptions = fc.record({
    key: fc.constantFrom(rsa, ed),
    canonicalization: fc.constantFrom(...canonicalizations),
    bodyLength: fc.boolean(),
    oversign: fc.constantFrom(undefined, [] as Array<string>, ["subject", "x-absent"])
  })

  effectProp(
    "property: for arbitrary composed messages and signing options, every verifier accepts every signature",
    {
      generated: messageArbitrary,
      signWith: fc.array(signingOptions, { minLength: 1, maxLength: 2 })
    },
    ({ generated, signWith }) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.now())
        const composed = yield* MailMessage.compose({
          ...toMessage(generated),
          dkim: signWith.map(({ key, ...more }) => options(key, more))
        })
        const bytes = yield* collect(composed.content)
        const verdicts = yield* (yield* Verifiers).verify(bytes, keys)
        // opendkim checks the first signature.
        expectPass(applicable(verdicts, bytes, signWith[0]!.canonicalization), signWith.length)
      }).pipe(withVerifiers),
    { fastCheck: { numRuns: 40 } }
  )

  /** Header fields and a body of the characters canonicalisation cares about, in any order. */
  const hostileBody = fc.array(
    fc.constantFrom(" ", "\t", "\r", "\n", "\r\n", "\r\n\r\n", ".", "a", "é", "  x  ", ":"),
    { maxLength: 60 }
  ).map((parts) => parts.join(""))
  const hostileValue = fc.array(
    fc.constantFrom(" ", "\t", "a", "B", "é", ";", "=", "\r\n ", "\r\n\t"),
    { maxLength: 12 }
  ).map((parts) => ` ${parts.join("")}`)

  effectProp(
    "property: white space, folding, lone CR and LF and 8-bit text anywhere, in chunks split anywhere: every verifier accepts",
    {
      subject: hostileValue,
      other: hostileValue,
      body: hostileBody,
      cuts: fc.array(fc.nat({ max: 400 }), { maxLength: 6 }),
      signWith: signingOptions
    },
    ({ body, cuts, other, signWith: { key, ...more }, subject }) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.now())
        const content = utf8.encode(
          `From: sender@example.test\r\nSubject:${subject}\r\nX-Other:${other}\r\n\r\n${body}`
        )
        const points = [0, ...cuts.map((c) => Math.min(c, content.length)).sort((a, b) => a - b), content.length]
        const chunks = points.slice(1).map((end, i) => content.slice(points[i], end))
        const signed = yield* Dkim.sign({ content: Stream.fromIterable(chunks) }, options(key, more))
        const bytes = yield* collect(signed.content)
        const verdicts = yield* (yield* Verifiers).verify(bytes, keys)
        expectPass(applicable(verdicts, bytes, more.canonicalization), 1)
      }).pipe(withVerifiers),
    { fastCheck: { numRuns: 60 } }
  )
})

describe("Dkim.sign", () => {
  effectProp(
    "property: where a stream is split never changes the signed bytes, and a stream signs as the same bytes in memory do",
    {
      body: fc.array(fc.constantFrom(" ", "\t", "\r", "\n", "\r\n", "a", "é", "."), { maxLength: 200 })
        .map((parts) => parts.join("")),
      cuts: fc.array(fc.nat({ max: 300 }), { maxLength: 8 }),
      canonicalization: fc.constantFrom(...canonicalizations)
    },
    ({ body, canonicalization, cuts }) =>
      Effect.gen(function*() {
        const content = utf8.encode(`From: a@example.test\r\nSubject: s\r\n\r\n${body}`)
        const points = [0, ...cuts.map((c) => Math.min(c, content.length)).sort((a, b) => a - b), content.length]
        const chunks = points.slice(1).map((end, i) => content.slice(points[i], end))
        const signWith = options(ed, { canonicalization })
        const whole = yield* signText(content, signWith)
        const streamed = yield* collect((yield* Dkim.sign({ content: Stream.fromIterable(chunks) }, signWith)).content)
        expect(text(streamed)).toBe(text(whole))
      })
  )
})
