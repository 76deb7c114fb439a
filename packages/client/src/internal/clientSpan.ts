import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
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
const noLinks: ReadonlyArray<Tracer.SpanLink> = []

/**
 * How a span is made: on which tracer, and whether the fiber's span
 * annotations and links are copied onto it.
 *
 * @internal
 */
export interface Style {
  /** The tracer for the calling fiber's context; the fiber's own when undefined. */
  readonly tracer: ((context: Context.Context<never>) => Tracer.Tracer) | undefined
  readonly fiberAnnotations: boolean
}

/**
 * What a failed span is told: its `error.type` (as an attribute when
 * `attribute`), and the failure it records in place of the error itself,
 * whose text may quote recipients.
 *
 * @internal
 */
export interface Failures<E, F> {
  readonly errorType: (error: E) => string
  readonly recorded: (errorType: string, error: E) => F
  readonly attribute: boolean
}

/**
 * A client span made the way `Effect.useSpan` makes one: the tracer, the
 * parent, the span annotations and links from the fiber, then the
 * attributes. Effect 3 reads the annotations and links through
 * `fiber.getFiberRefs()`, which first copies the map of every FiberRef the
 * fiber holds; once per message that copy was the largest cost of tracing,
 * so here each FiberRef is read alone.
 *
 * @internal
 */
export const make = (
  fiber: Fiber.Fiber<unknown, unknown>,
  name: string,
  attributes: Readonly<Record<string, unknown>>,
  startTime: bigint,
  style: Style
): Tracer.Span => {
  const tracer = style.tracer === undefined
    ? Context.get(fiber.currentDefaultServices, Tracer.Tracer)
    : style.tracer(fiber.currentContext)
  const options: Tracer.SpanOptions = { kind: "client", captureStackTrace: false, attributes }
  const span = tracer.span(
    name,
    parentOf(Context.getOption(fiber.currentContext, Tracer.ParentSpan)),
    Context.empty(),
    style.fiberAnnotations ? Chunk.toReadonlyArray(fiber.getFiberRef(FiberRef.currentTracerSpanLinks)) : noLinks,
    startTime,
    "client",
    options
  )
  if (style.fiberAnnotations) {
    HashMap.forEach(
      fiber.getFiberRef(FiberRef.currentTracerSpanAnnotations),
      (value, key) => span.attribute(key, value)
    )
  }
  for (const key in attributes) span.attribute(key, attributes[key])
  return span
}

/**
 * Ends `span` with `exit`, a failure as `failures` records it: every failure
 * in the cause replaced, its structure (defects, interruptions) kept.
 *
 * @internal
 */
export const end = <A, E, F>(
  span: Tracer.Span,
  exit: Exit.Exit<A, E>,
  endTime: bigint,
  failures: Failures<E, F>
): void => {
  if (span.status._tag === "Ended") return
  const failure = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
  if (Option.isNone(failure)) {
    span.end(endTime, exit)
    return
  }
  if (failures.attribute) span.attribute("error.type", failures.errorType(failure.value))
  span.end(endTime, Exit.mapError(exit, (error) => failures.recorded(failures.errorType(error), error)))
}

/**
 * The fiber's span clock: its Clock's nanoseconds, or always 0 where the
 * fiber turned span timing off (as Effect's own spans do).
 *
 * @internal
 */
export const timed = (fiber: Fiber.Fiber<unknown, unknown>): () => bigint => {
  if (!fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)) return () => noTime
  const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
  return () => clock.unsafeCurrentTimeNanos()
}
