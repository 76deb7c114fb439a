/**
 * What the proxy handshakes' incremental parsers return: they are given every
 * byte received so far, so a chunk boundary can never change a result.
 */

/**
 * What a parser made of the bytes received so far: not enough yet, a value
 * and how many bytes it took, or an answer that is not the protocol.
 *
 * @internal
 */
export type Parsed<A> =
  | { readonly _tag: "Incomplete" }
  | { readonly _tag: "Done"; readonly value: A; readonly consumed: number }
  | { readonly _tag: "Invalid"; readonly detail: string }

/** @internal */
export const incomplete: Parsed<never> = { _tag: "Incomplete" }
/** @internal */
export const done = <A>(value: A, consumed: number): Parsed<A> => ({ _tag: "Done", value, consumed })
/** @internal */
export const malformed = (detail: string): Parsed<never> => ({ _tag: "Invalid", detail })
