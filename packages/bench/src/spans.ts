/**
 * "Spans on" for the telemetry comparison: Effect's own tracer, with every
 * finished span handed to an in-memory exporter (a ring of the last 1,024),
 * as an application exporting its traces would. A tracer other than Effect's
 * default one is what an application with tracing runs, and what code that
 * skips work under the default tracer must not skip here.
 */
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

export interface MemoryExporter {
  readonly tracer: Tracer.Tracer
  /** Spans ended so far. */
  readonly ended: () => number
}

const ringSize = 1024

export const memoryExporter: Effect.Effect<MemoryExporter> = Effect.map(Effect.tracer, (native) => {
  const ring: Array<Tracer.Span> = []
  let ended = 0
  const tracer = Tracer.make({
    span(options) {
      const span = native.span(options)
      const end = span.end.bind(span)
      span.end = (endTime, exit) => {
        // A span ends once; a second end changes nothing and is not exported again.
        if (span.status._tag === "Ended") return
        end(endTime, exit)
        ring[ended++ % ringSize] = span
      }
      return span
    },
    // The native tracer's own: a wrapper would add a call to every effect the runtime runs.
    context: native.context
  })
  return { tracer, ended: () => ended }
})
