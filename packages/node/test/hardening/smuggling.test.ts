/**
 * SMTP smuggling (CVE-2023-51764 Postfix, -51765 sendmail, -51766 Exim): a
 * server that accepts `<LF>.<CR><LF>` or `<CR>.<CR>` as the end of data runs
 * whatever follows as new commands. Whatever body a caller hands the client,
 * split however a stream splits it, the bytes on the wire must hold no
 * end-of-data before the real one and no bare CR or LF.
 *
 * Properties, counted:
 * - the whole client, DATA and BDAT, over a scripted server, with the bytes
 *   the client wrote captured beneath the protocol (one session carries every
 *   message, so each case costs one transaction, not one connection);
 * plus a real Postfix, which must store a smuggling attempt as one normalised
 * message and nothing else. The DATA / BDAT encoder on its own, over
 * arbitrary splits (140,000 cases), is the client's: its
 * test/smuggling.test.ts, the same checks (@effect-smtp/test-utils/wire).
 */
import { SmtpClient, SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { fc } from "@effect-smtp/test-utils/property"
import {
  canonical,
  check,
  checkBdatBody,
  checkDataBody,
  CR,
  firstLenientEnd,
  hasNoBareBreak,
  hostileBody,
  LF,
  splitAt
} from "@effect-smtp/test-utils/wire"
import { TestSocket } from "@effect-smtp/testing"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Bytes from "effect/Bytes"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { capturingSocket } from "../utils/capturingSocket.js"
import { includesText, postfixSkipReason, postfixTarget, waitForDelivery } from "../utils/postfix.js"

/**
 * Cases per property; their sum is the run's total, checked at the end. A
 * transaction through the whole client costs about a millisecond (fibers,
 * timeouts, the body stream): these check that nothing between the encoder
 * (the client's own smuggling test runs it on 140,000 cases) and the socket
 * undoes its work.
 */
const runs = {
  clientData: 3_000,
  clientBdat: 2_000
}
const planned = Object.values(runs).reduce((a, b) => a + b, 0)
let executed = 0

afterAll(() => {
  // Every planned case ran (a skipped or shortened property would lower the count).
  expect(executed).toBe(planned)
})

/** A lean server: every message accepted, nothing stored (the wire capture is the record). */
const script = (chunking: boolean) => (server: TestSocket.ServerSide) =>
  Effect.gen(function*() {
    yield* server.send("220 wire.test ESMTP\r\n")
    while (true) {
      const line = yield* server.readLine
      const verb = line.split(/[ :]/)[0]!.toUpperCase()
      if (verb === "EHLO") {
        yield* server.send(`250-wire.test\r\n250-PIPELINING\r\n${chunking ? "250-CHUNKING\r\n" : ""}250 8BITMIME\r\n`)
      } else if (verb === "DATA") {
        yield* server.send("354 go ahead\r\n")
        yield* server.readData
        yield* server.send("250 2.0.0 queued\r\n")
      } else if (verb === "BDAT") {
        yield* server.readBytes(Number(line.split(" ")[1]))
        yield* server.send("250 2.0.0 chunk\r\n")
      } else if (verb === "QUIT") {
        yield* server.send("221 bye\r\n")
        return
      } else {
        yield* server.send("250 ok\r\n")
      }
    }
  })

const decoder = new TextDecoder("latin1")
const groupBeforeData = /^MAIL FROM:<a@example\.com>[^\r\n]*\r\nRCPT TO:<b@example\.com>\r\nDATA\r\n$/
const groupBeforeBdat = /^MAIL FROM:<a@example\.com>[^\r\n]*\r\nRCPT TO:<b@example\.com>\r\n$/

/**
 * Fewer cuts than the encoder properties: every chunk is a write with its own
 * timeout, the costly part of a case here, and the encoder properties cover
 * the many-cuts side.
 */
const fewCuts = fc.array(fc.nat(), { maxLength: 4 })

/** Splits what was written for one BDAT message into its chunks, checking the framing. */
const bdatPayload = (wire: Uint8Array): Uint8Array => {
  const parts: Array<Uint8Array> = []
  let at = 0
  let last = false
  while (at < wire.length) {
    check(!last, "bytes after BDAT LAST", wire, [])
    let eol = at
    while (eol + 1 < wire.length && !(wire[eol] === CR && wire[eol + 1] === LF)) eol++
    const match = /^BDAT (\d+)( LAST)?$/.exec(decoder.decode(wire.subarray(at, eol)))
    check(match !== null, "no BDAT header where one belongs", wire, [])
    const size = Number(match![1])
    last = match![2] !== undefined
    parts.push(wire.subarray(eol + 2, eol + 2 + size))
    at = eol + 2 + size
  }
  check(at === wire.length && last, "the BDAT framing does not cover the bytes exactly, ending with LAST", wire, [])
  return Bytes.concat(parts)
}

const viaClient = (mode: "DATA" | "BDAT", numRuns: number) =>
  Effect.gen(function*() {
    const writes: Array<Uint8Array> = []
    const layer = SmtpClient.layer({ host: "wire.test", port: 25, security: "none" }).pipe(
      Layer.provide(SmtpProtocol.layer),
      Layer.provide(capturingSocket((data) => void writes.push(data))),
      Layer.provide(TestSocket.layer(script(mode === "BDAT"))),
      Layer.provide(SmtpMetrics.layerNoop)
    )
    yield* Effect.gen(function*() {
      const client = yield* SmtpClient
      let session = yield* client.session
      const scope = yield* Scope.Scope
      const run = Effect.runPromiseWith(yield* Effect.context<never>())
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(hostileBody, fewCuts, async (body, at) => {
            executed++
            writes.length = 0
            const mail = {
              from: "a@example.com",
              to: ["b@example.com"],
              content: Stream.fromIterable(splitAt(body, at))
            }
            if (body.includes(0)) {
              // A NUL is refused (RFC 5322 §3.5): the stream is cut where it is
              // seen, and no end of the message, real or lenient, is written.
              const refused = await run(Effect.result(session.send(mail)))
              const rest = Bytes.concat(writes.slice(1))
              check(
                refused._tag === "Failure" && refused.failure._tag === "InvalidInputError",
                "a body with NUL was not refused",
                rest,
                body
              )
              check(hasNoBareBreak(rest), "a bare CR or LF on the wire", rest, body)
              check(
                mode === "DATA" ? firstLenientEnd(rest) === -1 : !/BDAT \d+ LAST/.test(decoder.decode(rest)),
                "the end of a refused message was written",
                rest,
                body
              )
              // The cut closed that session.
              session = await run(Scope.provide(scope)(client.session))
              return
            }
            const result = await run(session.send(mail))
            const group = decoder.decode(writes[0])
            const rest = Bytes.concat(writes.slice(1))
            check(result.statusCode === 250, `the message was not accepted: ${result.response}`, rest, body)
            // The pipelined MAIL and RCPT (and DATA), then the body alone.
            check(
              (mode === "DATA" ? groupBeforeData : groupBeforeBdat).test(group),
              `unexpected command group ${JSON.stringify(group)}`,
              rest,
              body
            )
            check(hasNoBareBreak(rest), "a bare CR or LF on the wire", rest, body)
            if (mode === "DATA") checkDataBody(rest, body)
            else checkBdatBody(bdatPayload(rest), body)
            check(
              result.bytesSent === (mode === "DATA" ? rest.length : canonical(body).length),
              `bytesSent ${result.bytesSent} is not what was written`,
              rest,
              body
            )
          }),
          { numRuns }
        )
      )
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

describe("smuggling: through the client, bytes on the wire", () => {
  it.live(`DATA: ${runs.clientData} streamed bodies on one session`, () => viaClient("DATA", runs.clientData), {
    timeout: 60_000
  })
  it.live(`BDAT: ${runs.clientBdat} streamed bodies on one session`, () => viaClient("BDAT", runs.clientBdat), {
    timeout: 60_000
  })
})

const target = postfixTarget()

describe("smuggling: a real Postfix", () => {
  if (target === undefined) {
    it.skip(postfixSkipReason, () => {})
    return
  }
  const pf = target
  const ports: ReadonlyArray<readonly [string, number | undefined]> = [["BDAT", pf.port], ["DATA", pf.dataPort]]
  for (const [mode, port] of ports) {
    if (port === undefined) {
      it.skip(`${mode}: set EFFECT_SMTP_POSTFIX_DATA (printed by scripts/services/postfix.sh start)`, () => {})
      continue
    }
    it.live(
      `${mode}: a smuggling attempt is delivered as one normalised message, and nothing is smuggled`,
      () =>
        Effect.gen(function*() {
          const token = `smuggle-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
          const smuggled = `smuggled-${token}`
          const second = (end: string) =>
            `${end}MAIL FROM:<attacker@example.com>${end}RCPT TO:<smtptest@localhost>${end}DATA${end}` +
            `From: attacker@example.com${end}Subject: ${smuggled}${end}${end}you were smuggled${end}.${end}`
          const content = [
            "From: sender@example.com",
            "To: smtptest@localhost",
            `Subject: ${token}`,
            `Message-ID: <${token}@effect-smtp.test>`,
            "Date: Tue, 25 Nov 2025 07:00:00 +0000",
            "",
            `token ${token}`,
            // Every end-of-data a lenient server might accept, each followed by a second message.
            `lf-dot-crlf\n.\r\n${second("\r\n")}`,
            `cr-dot-cr\r.\r${second("\r")}`,
            `lf-dot-lf\n.\n${second("\n")}`,
            `crlf-dot-lf\r\n.\n${second("\n")}`,
            "last line"
          ].join("\r\n")
          const result = yield* SmtpClient.send({
            from: "sender@example.com",
            to: ["smtptest@localhost"],
            content: Stream.fromIterable(splitAt(new TextEncoder().encode(content), [17, 200, 201, 202, 350, 351]))
          }).pipe(
            Effect.provide(NodeSmtp.layer({ host: pf.host, port, security: "none", timeout: "15 seconds" }))
          )
          expect(result.accepted).toEqual(["smtptest@localhost"])

          const delivered = yield* waitForDelivery(pf.maildir, includesText(`token ${token}`))
          const text = new TextDecoder().decode(delivered)
          // Postfix stores LF line ends; the body must be the input with every
          // CRLF, lone CR and lone LF as one line break and nothing dropped.
          const body = text.slice(text.indexOf(`From: sender@example.com\n`))
          const expected = `${content.replace(/\r\n|\r|\n/g, "\n")}\n`
          expect(body).toBe(expected)
          // The would-be second messages are text inside this one, never mail of their own.
          yield* Effect.sleep("1 second")
          const names = yield* Effect.promise(() => Fs.readdir(Path.join(pf.maildir, "new")))
          const smuggledCopies = yield* Effect.promise(async () => {
            let count = 0
            for (const name of names) {
              const bytes = await Fs.readFile(Path.join(pf.maildir, "new", name)).catch(() => undefined)
              if (bytes !== undefined && bytes.includes(`Subject: ${smuggled}`) && !bytes.includes(`token ${token}`)) {
                count++
              }
            }
            return count
          })
          expect(smuggledCopies).toBe(0)
        }),
      { timeout: 30_000 }
    )
  }
})
