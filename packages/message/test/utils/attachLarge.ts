/**
 * Composes a message with the file `argv[2]` attached (NodeAttachment) and
 * reads it through, sampling what is alive (heap and ArrayBuffers, after
 * full collections, as signLarge.ts does). Prints the octets, what was alive
 * before the file was read, and the most it grew by while it was, as JSON. With `hold` as `argv[3]` it keeps every chunk instead: the control.
 */
import { MailMessage } from "@effect-smtp/message"
import { NodeAttachment } from "@effect-smtp/message/node"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { liveMemory } from "./liveMemory.js"

const { peak, sample } = liveMemory()
let base = 0

const program = Effect.gen(function*() {
  const attachment = yield* NodeAttachment.fromPath(process.argv[2]!)
  const composed = yield* MailMessage.compose({
    from: "a@example.com",
    to: "b@example.com",
    text: "large",
    attachments: [attachment]
  })
  yield* sample
  // What is alive before the first byte of the file is read: the code loaded, the composer.
  base = peak()
  const held: Array<Uint8Array> = []
  let octets = 0
  yield* Stream.runForEach(composed.content, (chunk) =>
    Effect.suspend(() => {
      if (process.argv[3] === "hold") held.push(chunk)
      octets += chunk.length
      return octets % (8 * 1048576) < chunk.length ? sample : Effect.void
    }))
  yield* sample
  process.stdout.write(`${JSON.stringify({ octets, baseMiB: base / 1048576, growthMiB: (peak() - base) / 1048576 })}\n`)
})

Effect.runPromise(program).catch((error) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
