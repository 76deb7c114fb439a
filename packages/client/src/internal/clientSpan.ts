import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/** The nearest enclosing span that does not disable propagation, as Effect picks a parent. */
const parentOf = (span: Option.Option<Tracer.AnySpan>): Option.Option<Tracer.AnySpan> =>
  Option.flatMap(span, (s) =>
    Context.get(s.context, Tracer.DisablePropagation)
      ? s._tag === "Span" ? parentOf(s.parent) : Option.none()
      : Option.some(s))

const noTime = BigInt(0)

/**
 * `Effect.useSpan` for a client span, made the same way (tracer, parent,
 * span annotations and links from the fiber, then the attributes; ended with
 * the exit) but for one cost: Effect 3 reads the annotations and links
 * through `fiber.getFiberRefs()`, which first copies the map of every
 * FiberRef the fiber holds to refresh its runtime flags. Once per message
 * that copy was the largest cost of tracing; here each FiberRef is read alone.
 *
 * Only for a fiber whose tracer is enabled: the caller checks.
 *
 * @internal
 */
export const use = <A, E, R>(
  name: string,
  attributes: Record<string, unknown>,
  body: (span: Tracer.Span) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime<A, E, R>((fiber) => {
    const services = fiber.currentDefaultServices
    const tracer = Context.get(services, Tracer.Tracer)
    const clock = Context.get(services, Clock.Clock)
    const timing = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
    const options: Tracer.SpanOptions = { kind: "client", captureStackTrace: false, attributes }
    const span = tracer.span(
      name,
      parentOf(Context.getOption(fiber.currentContext, Tracer.ParentSpan)),
      Context.empty(),
      Chunk.toReadonlyArray(fiber.getFiberRef(FiberRef.currentTracerSpanLinks)),
      timing ? clock.unsafeCurrentTimeNanos() : noTime,
      "client",
      options
    )
    HashMap.forEach(
      fiber.getFiberRef(FiberRef.currentTracerSpanAnnotations),
      (value, key) => span.attribute(key, value)
    )
    for (const key in attributes) span.attribute(key, attributes[key])
    return Effect.onExit(body(span), (exit) =>
      Effect.sync(() => {
        if (span.status._tag !== "Ended") span.end(timing ? clock.unsafeCurrentTimeNanos() : noTime, exit)
      }))
  })
