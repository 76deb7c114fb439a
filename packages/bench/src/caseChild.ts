/**
 * One throughput case in a process of its own (spawned by isolated.ts): it
 * warms up, sends `count` messages, and prints the timing as JSON. In one
 * shared process each client would also pay for the others' garbage and
 * leave the JIT's inline caches shaped by code it never runs; an
 * application runs one SMTP client, not ten.
 *
 * The warm-up is by time, the same for every client: batches of messages
 * until the seconds are up. A long-running application is warm; effect-smtp
 * in particular keeps getting faster for tens of thousands of messages as V8
 * optimises Effect's runtime loop for this workload.
 *
 * Arguments: sink host, sink port, case key, count, warm-up seconds, in-flight.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as Cases from "./cases.js"
import { timed } from "./measure.js"

const [host, port, key, count, warmUp, inFlight] = process.argv.slice(2)

const program = Effect.gen(function*() {
  const found = Cases.make({ host, port: Number(port) }, { messageSize: 2048, inFlight: Number(inFlight) })
    .find((c) => c.key === key)
  if (found === undefined) return yield* Effect.dieMessage(`no case ${key}`)
  // JIT, GC heuristics, connection paths, smtp-sink's first accepts.
  const warmUntil = Date.now() + Number(warmUp) * 1000
  const batch = Math.max(1, Math.min(2000, Number(count)))
  do yield* found.run(batch)
  while (Date.now() < warmUntil)
  const timing = yield* timed(found.run(Number(count)))
  process.stdout.write(`${JSON.stringify(timing)}\n`)
})

program.pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
