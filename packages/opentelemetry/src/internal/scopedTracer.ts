/**
 * An Effect `Tracer` whose spans are OpenTelemetry spans of one
 * instrumentation scope, shaped as MailKit shapes its activities: a kind,
 * the attributes the client sets, and an Ok or Error status; no events, no
 * recorded exception, no links. `@effect/opentelemetry`'s tracer cannot do
 * this: it makes every span on one tracer (`effect`), records a failure as an
 * exception event with its message in the status, and marks an interrupted
 * span with an attribute of its own.
 */
import * as OtelApi from "@opentelemetry/api"
import type * as Context from "effect/Context"
import type * as Exit from "effect/Exit"
import type * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

const billion = BigInt(1_000_000_000)
const hrTime = (nanos: bigint): OtelApi.HrTime => [Number(nanos / billion), Number(nanos % billion)]

const kinds: Record<Tracer.SpanKind, OtelApi.SpanKind> = {
  internal: OtelApi.SpanKind.INTERNAL,
  client: OtelApi.SpanKind.CLIENT,
  server: OtelApi.SpanKind.SERVER,
  producer: OtelApi.SpanKind.PRODUCER,
  consumer: OtelApi.SpanKind.CONSUMER
}

/**
 * The OpenTelemetry context of an Effect parent span (any tracer's), else the
 * active one, or none at all for a root span.
 */
const parentContext = (parent: Option.Option<Tracer.AnySpan>, root: boolean): OtelApi.Context => {
  const active = OtelApi.context.active()
  if (parent._tag === "None") return root ? OtelApi.trace.deleteSpan(active) : active
  const span = parent.value
  return OtelApi.trace.setSpanContext(active, {
    traceId: span.traceId,
    spanId: span.spanId,
    traceFlags: span.sampled ? OtelApi.TraceFlags.SAMPLED : OtelApi.TraceFlags.NONE,
    isRemote: span._tag === "ExternalSpan"
  })
}

const isAttributeValue = (value: unknown): value is OtelApi.AttributeValue =>
  typeof value === "string" || typeof value === "number" || typeof value === "boolean"

type SpanOptions = Parameters<Tracer.Tracer["span"]>[0]

class ScopedSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly name: string
  readonly parent: Option.Option<Tracer.AnySpan>
  readonly annotations: Context.Context<never>
  readonly kind: Tracer.SpanKind
  readonly spanId: string
  readonly traceId: string
  // The SDK's sampler decides, as for @effect/opentelemetry's own spans.
  readonly sampled: boolean
  readonly attributes = new Map<string, unknown>()
  readonly links: ReadonlyArray<Tracer.SpanLink> = []
  status: Tracer.SpanStatus
  readonly #span: OtelApi.Span

  constructor(tracer: OtelApi.Tracer, options: SpanOptions) {
    this.name = options.name
    this.parent = options.parent
    this.annotations = options.annotations
    this.kind = options.kind
    this.#span = tracer.startSpan(
      options.name,
      { kind: kinds[options.kind], startTime: hrTime(options.startTime) },
      parentContext(options.parent, options.root)
    )
    const spanContext = this.#span.spanContext()
    this.spanId = spanContext.spanId
    this.traceId = spanContext.traceId
    this.sampled = (spanContext.traceFlags & OtelApi.TraceFlags.SAMPLED) === OtelApi.TraceFlags.SAMPLED
    this.status = { _tag: "Started", startTime: options.startTime }
  }

  // An ended span takes no more attributes (Effect's Span contract).
  attribute(key: string, value: unknown): void {
    if (this.status._tag === "Ended") return
    this.attributes.set(key, value)
    if (isAttributeValue(value)) this.#span.setAttribute(key, value)
  }

  // MailKit's spans carry no events and no links.
  event(): void {}
  addLinks(): void {}

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    if (this.status._tag === "Ended") return
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
    this.#span.setStatus({
      code: exit._tag === "Success" ? OtelApi.SpanStatusCode.OK : OtelApi.SpanStatusCode.ERROR
    })
    this.#span.end(hrTime(endTime))
  }
}

/**
 * A tracer of the scope `name` / `version` on `provider`.
 *
 * @internal
 */
export const make = (provider: OtelApi.TracerProvider, name: string, version: string): Tracer.Tracer => {
  const tracer = provider.getTracer(name, version)
  // No `context` hook: the client only makes spans on this tracer, it is never a fiber's tracer.
  return Tracer.make({ span: (options) => new ScopedSpan(tracer, options) })
}
