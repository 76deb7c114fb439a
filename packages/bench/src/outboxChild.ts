/**
 * The outbox rows (outbox.ts) in a process of their own, compiled to one
 * JavaScript file like the other cases; prints the result as JSON.
 *
 * Arguments: sink host, sink port, count, callers, batch size, warm-up messages.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Outbox from "./outbox.js"

const [host, port, count, callers, batch, warmUp] = process.argv.slice(2)

const program = Effect.gen(function*() {
  const result = yield* Outbox.run({
    host,
    port: Number(port),
    count: Number(count),
    callers: Number(callers),
    batch: Number(batch),
    warmUp: Number(warmUp)
  })
  process.stdout.write(`${JSON.stringify(result)}\n`)
})

program.pipe(NodeRuntime.runMain)
