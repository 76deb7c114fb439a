/**
 * Signs a generated message of `argv[2]` MiB with canonicalisation
 * `argv[3]` and reads the signed stream through, in a process whose heap is
 * limited (see DkimMemory.test.ts): a signer that held the body would run
 * out of memory. Prints what it saw as JSON on stdout. With `hold` as
 * `argv[4]` it collects the unsigned message instead: the control, which the
 * same limit must stop.
 */
import { Dkim } from "@effect-smtp/message"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { generateKeyPairSync } from "node:crypto"
import { liveMemory } from "./liveMemory.js"

const mib = Number(process.argv[2])
const canonicalization = process.argv[3] as Dkim.Canonicalization
const pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString()

const line = new TextEncoder().encode("A line of  text\twith white space   \r\n")
const base = new Uint8Array(65536).map((_, i) => line[i % line.length]!)
const { peak, sample } = liveMemory()

// Fresh chunks every time: a signer that kept them would keep the whole body.
const content = Stream.concat(
  Stream.make(new TextEncoder().encode("From: a@example.test\r\nSubject: large\r\n\r\n")),
  Stream.range(1, mib * 16, 1).pipe(Stream.map((i) => {
    const chunk = base.slice()
    chunk[0] = 65 + (i % 26)
    return chunk
  }))
)

const hold = Effect.gen(function*() {
  const chunks = yield* Stream.runCollect(content)
  yield* sample
  process.stdout.write(`${JSON.stringify({ octets: chunks.length * 65536, peakMiB: peak() / 1048576 })}\n`)
})

const program = Effect.gen(function*() {
  const signed = yield* Dkim.sign({ content }, {
    domain: "example.test",
    selector: "s",
    privateKey: Redacted.make(pem),
    canonicalization
  })
  yield* sample
  let octets = 0
  yield* Stream.runForEach(signed.content, (chunk) =>
    Effect.suspend(() => {
      octets += chunk.length
      return octets % (8 * 1048576) < chunk.length ? sample : Effect.void
    }))
  process.stdout.write(`${JSON.stringify({ octets, peakMiB: peak() / 1048576 })}\n`)
})

Effect.runPromise(process.argv[4] === "hold" ? hold : program).catch((error) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
