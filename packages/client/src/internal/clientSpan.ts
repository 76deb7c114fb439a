import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
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
 * What a failed span is told: the `error.type` attribute for its failure,
 * and the failure it records (never the error itself, whose text may quote
 * recipients).
 *
 * @internal
 */
export interface Failures<E, F> {
  readonly errorType: (error: E) => string
  readonly recorded: (errorType: string, error: E) => F
}

/**
 * A client span made the way `Effect.useSpan` makes one: the tracer, the
 * parent, the span annotations and links from the fiber, then the
 * attributes. Effect 3 reads the annotations and links through
 * `fiber.getFiberRefs()`, which first copies the map of every FiberRef the
 * fiber holds; once per message that copy was the largest cost of tracing,
 * so here each FiberRef is read alone.
 */
const make = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  name: string,
  attributes: Record<string, unknown>,
  startTime: bigint
): Tracer.Span => {
  const tracer = Context.get(fiber.currentDefaultServices, Tracer.Tracer)
  const options: Tracer.SpanOptions = { kind: "client", captureStackTrace: false, attributes }
  const span = tracer.span(
    name,
    parentOf(Context.getOption(fiber.currentContext, Tracer.ParentSpan)),
    Context.empty(),
    Chunk.toReadonlyArray(fiber.getFiberRef(FiberRef.currentTracerSpanLinks)),
    startTime,
    "client",
    options
  )
  HashMap.forEach(fiber.getFiberRef(FiberRef.currentTracerSpanAnnotations), (value, key) => span.attribute(key, value))
  for (const key in attributes) span.attribute(key, attributes[key])
  return span
}

/** Ends `span` with `exit`, a failure as `failures` records it. */
const end = <A, E, F>(
  span: Tracer.Span,
  exit: Exit.Exit<A, E>,
  endTime: bigint,
  failures: Failures<E, F>
): void => {
  if (span.status._tag === "Ended") return
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
  if (Option.isNone(failure)) {
    span.end(endTime, exit)
    return
  }
  span.attribute("error.type", failures.errorType(failure.value))
  // Every failure in the cause replaced, its structure (defects, interruptions) kept.
  span.end(endTime, Exit.mapError(exit, (error) => failures.recorded(failures.errorType(error), error)))
}

const noTimeNow = () => noTime

const timed = (fiber: Fiber.RuntimeFiber<unknown, unknown>) => {
  const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
  return fiber.getFiberRef(FiberRef.currentTracerTimingEnabled) ? () => clock.unsafeCurrentTimeNanos() : noTimeNow
}

/**
 * A span around `body`, made before it starts, which `body` can make the
 * parent of what it runs. Only for a fiber whose tracer is enabled: the
 * caller checks.
 *
 * @internal
 */
export const use = <A, E, R, F>(
  name: string,
  attributes: Record<string, unknown>,
  failures: Failures<E, F>,
  body: (span: Tracer.Span) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime<A, E, R>((fiber) => {
    const now = timed(fiber)
    const span = make(fiber, name, attributes, now())
    return Effect.onExit(body(span), (exit) => Effect.sync(() => end(span, exit, now(), failures)))
  })

/**
 * The span of something that has already ended: made and ended at once, with
 * the time it started. What is exported is the same span as if it had been
 * open all along; what is saved is making it on the way to the wire (for a
 * pooled send, between the reply to one message and the next body). A tracer
 * hook on span start runs at the end, and nothing inside could find the span
 * (a send makes no spans of its own). Nothing is made with the tracer off.
 *
 * @internal
 */
export const ended = <A, E, F>(
  name: string,
  attributes: () => Record<string, unknown>,
  failures: Failures<E, F>,
  exit: Exit.Exit<A, E>,
  startNanos: bigint
): Effect.Effect<void> =>
  Effect.withFiberRuntime<void>((fiber) => {
    if (!fiber.getFiberRef(FiberRef.currentTracerEnabled)) return Effect.void
    const now = timed(fiber)
    const startTime = now === noTimeNow ? noTime : startNanos
    end(make(fiber as Fiber.RuntimeFiber<unknown, unknown>, name, attributes(), startTime), exit, now(), failures)
    return Effect.void
  })
