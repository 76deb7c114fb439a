/**
 * The large message in a process of its own (spawned by isolated.ts, from
 * the same compiled JavaScript as the throughput cases): one untimed send
 * each to warm up, then rounds that alternate effect-smtp's streamed send and
 * a raw socket's, so a change in the machine's load falls on both. Prints
 * the rates (bytes per second, one per round) as JSON.
 *
 * Arguments: sink host, sink port, approximate size in bytes, rounds.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as EffectSmtp from "./effectSmtp.js"
import { timed } from "./measure.js"
import * as Message from "./message.js"
import * as RawLarge from "./peers/rawLarge.js"
import { megabytes } from "./table.js"

const [host, port, size, rounds] = process.argv.slice(2)

const program = Effect.gen(function*() {
  const large = Message.large(Number(size))
  const peer = { host, port: Number(port), from: Message.from, to: Message.to }
  const viaEffectSmtp = EffectSmtp.send({
    ...peer,
    content: large.stream,
    size: large.size,
    count: 1,
    inFlight: 1,
    connections: { _tag: "PerMessage" },
    telemetry: "on"
  })
  const viaRaw = RawLarge.send({ ...peer, message: large })
  const rates = { size: large.size, effectSmtp: [] as Array<number>, raw: [] as Array<number> }
  yield* Effect.andThen(viaEffectSmtp, viaRaw)
  for (let round = 1; round <= Number(rounds); round++) {
    const effectSmtp = large.size / (yield* timed(viaEffectSmtp)).seconds
    const raw = large.size / (yield* timed(viaRaw)).seconds
    rates.effectSmtp.push(effectSmtp)
    rates.raw.push(raw)
    yield* Console.error(
      `round ${round}/${rounds} ${megabytes(large.size)}: ` +
        `effect-smtp ${megabytes(effectSmtp)}/s, raw ${megabytes(raw)}/s`
    )
  }
  process.stdout.write(`${JSON.stringify(rates)}\n`)
})

program.pipe(NodeRuntime.runMain)
