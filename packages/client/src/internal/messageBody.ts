import type * as Stream from "effect/Stream"
import * as dataEncoder from "./dataEncoder.js"
import * as slab from "./slab.js"

/**
 * A message body: bytes known up front, with what one scan of them found,
 * or a stream.
 *
 * @internal
 */
export type Body<E> =
  | { readonly _tag: "Known"; readonly bytes: Uint8Array; readonly facts: dataEncoder.Scan }
  | { readonly _tag: "Stream"; readonly stream: Stream.Stream<Uint8Array, E> }

interface HasContent<E> {
  readonly content: string | Uint8Array | Stream.Stream<Uint8Array, E>
}

const make = <E>(content: HasContent<E>["content"]): Body<E> => {
  if (typeof content !== "string" && !(content instanceof Uint8Array)) return { _tag: "Stream", stream: content }
  const bytes = typeof content === "string" ? slab.encode(content) : content
  return { _tag: "Known", bytes, facts: dataEncoder.scan(bytes) }
}

/** Bodies scanned ahead, by the envelope object of one send attempt. */
const ahead = new WeakMap<object, Body<unknown>>()

/**
 * Scans the body of one send attempt's own envelope object ahead of time: a
 * pooled send does it before it waits for a connection, so the scan is not
 * on the way from one message's final reply to the next one's body. The
 * object must be made for this attempt alone: its content is read now.
 *
 * @internal
 */
export const scanAhead = <E>(envelope: HasContent<E>): void => {
  ahead.set(envelope, make(envelope.content))
}

/** The body of `envelope`: scanned ahead, or now. @internal */
export const of = <E>(envelope: HasContent<E>): Body<E> =>
  (ahead.get(envelope) as Body<E> | undefined) ?? make(envelope.content)
