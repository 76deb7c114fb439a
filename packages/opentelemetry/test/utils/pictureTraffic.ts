/**
 * A few minutes of mail for scripts/telemetry-picture.sh: one application per
 * profile, served where scripts/services/prometheus.sh scrapes (127.0.0.1:2591
 * documented, 127.0.0.1:2593 shipped), sending in three phases: normal traffic
 * with the odd refused recipient, an outage (the server refuses connections,
 * then rejects the credentials, then drops connections), and a slow recovery.
 *
 *   tsx test/utils/pictureTraffic.ts [seconds per phase, default 60]
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { application, type Send, sendAll, servers } from "./mailTraffic.js"

const phase = Duration.seconds(Number(process.argv[2] ?? 60))

const program = Effect.gen(function*() {
  const to = yield* servers(1_500)
  const apps = [
    yield* application("documented", [{ port: 2591, names: "javascript" }]),
    yield* application("shipped", [{ port: 2593, names: "javascript" }])
  ]
  const every = (kinds: (tick: number) => ReadonlyArray<Send>) =>
    Effect.gen(function*() {
      const end = Date.now() + Duration.toMillis(phase)
      for (let tick = 0; Date.now() < end; tick++) {
        yield* Effect.all(apps.map((metrics) => sendAll(metrics, to, kinds(tick))), { discard: true })
        yield* Effect.sleep("1 second")
      }
    })
  yield* Effect.log("phase 1: normal traffic")
  yield* every((tick) => ["success", "success", "success", ...(tick % 4 === 0 ? ["550" as const] : [])])
  yield* Effect.log("phase 2: an outage: refused connections, then rejected credentials, then dropped connections")
  yield* every((tick) =>
    tick % 3 === 0 ? ["refused", "refused"] : tick % 3 === 1 ? ["535", "success"] : ["dropped", "success"]
  )
  yield* Effect.log("phase 3: recovery, with a slow server")
  yield* every((tick) => ["success", "success", ...(tick % 2 === 0 ? ["slow" as const] : [])])
  // Time for the last scrapes.
  yield* Effect.sleep("3 seconds")
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
