import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"

/** The nearest enclosing span that does not disable propagation, as Effect picks a parent. */
const parentOf = (span: Tracer.AnySpan | undefined): Option.Option<Tracer.AnySpan> => {
  if (span === undefined) return Option.none()
  return Context.get(span.annotations, Tracer.DisablePropagation)
    ? span._tag === "Span" ? parentOf(Option.getOrUndefined(span.parent)) : Option.none()
    : Option.some(span)
}

const noTime = BigInt(0)

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
 * parent, the sampling decision, the span annotations and links from the
 * fiber, then the attributes; but on the tracer the style names (the
 * OpenTelemetry backend's, for the shipped profile's instrumentation scope)
 * and at the caller's start time, so the span covers exactly the operation.
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
  const tracer = style.tracer === undefined ? fiber.getRef(Tracer.Tracer) : style.tracer(fiber.context)
  const parent = parentOf(fiber.cache.span)
  const sampled = Option.isSome(parent) && parent.value.sampled === false
    ? false
    : !LogLevel.isGreaterThan(fiber.getRef(Tracer.MinimumTraceLevel), fiber.getRef(Tracer.CurrentTraceLevel))
  const span = tracer.span({
    name,
    parent,
    annotations: Context.empty(),
    links: style.fiberAnnotations ? [...fiber.getRef(References.TracerSpanLinks)] : [],
    startTime,
    kind: "client",
    root: false,
    sampled
  })
  if (style.fiberAnnotations) {
    const annotations = fiber.getRef(References.TracerSpanAnnotations)
    for (const key in annotations) span.attribute(key, annotations[key])
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
  if (!fiber.getRef(References.TracerTimingEnabled)) return () => noTime
  const clock = fiber.getRef(Clock.Clock)
  return () => clock.currentTimeNanosUnsafe()
}
