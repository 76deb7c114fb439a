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
 * With several keys (comma-separated), the cases share this one process:
 * each warms up in turn, then each is timed in turn, and the timings are
 * printed as a JSON array (see `Cases.shared`).
 *
 * Arguments: sink host, sink port, case key(s), count, warm-up seconds, in-flight.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Cases from "./cases.js"
import { timed } from "./measure.js"

const [host, port, key, count, warmUp, inFlight] = process.argv.slice(2)

const program = Effect.gen(function*() {
  const all = Cases.make({ host, port: Number(port) }, { messageSize: 2048, inFlight: Number(inFlight) })
  const keys = key.split(",")
  const found = keys.map((k) => all.find((c) => c.key === k))
  if (found.some((c) => c === undefined)) return yield* Effect.die(new Error(`no case ${key}`))
  const cases = found as ReadonlyArray<Cases.Case>
  const batch = Math.max(1, Math.min(2000, Number(count)))
  // JIT, GC heuristics, connection paths, smtp-sink's first accepts.
  for (const c of cases) {
    const warmUntil = Date.now() + Number(warmUp) * 1000
    do yield* c.run(batch)
    while (Date.now() < warmUntil)
  }
  const timings = yield* Effect.forEach(cases, (c) => timed(c.run(Number(count))))
  process.stdout.write(`${JSON.stringify(keys.length === 1 ? timings[0] : timings)}\n`)
})

program.pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain)
