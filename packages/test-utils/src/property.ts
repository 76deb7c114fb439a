/**
 * Property tests over fast-check arbitraries, for `@effect/vitest` 4.
 *
 * `@effect/vitest` 4's own `it.prop` takes Effect's `Schema` and
 * `effect/Arbitrary` values only, and Effect 4 no longer ships fast-check, whose
 * combinators (`stringMatching`, `subarray`, `uniqueArray`, weighted `oneof`,
 * shrinking of every one of them) the workspace's generators are written in.
 * These two helpers keep those generators: `prop` registers a synchronous
 * property, `effectProp` one whose body is an Effect, each run with fresh test
 * services (its own `TestClock`) in its own scope, as `it.effect` runs a test.
 * A failing run reports fast-check's shrunk counterexample.
 */
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"
import * as TestConsole from "effect/testing/TestConsole"
import * as fc from "fast-check"

export { fc }

type Arbitraries = ReadonlyArray<fc.Arbitrary<unknown>> | { readonly [key: string]: fc.Arbitrary<unknown> }

type Values<A extends Arbitraries> = { -readonly [K in keyof A]: A[K] extends fc.Arbitrary<infer T> ? T : never }

/**
 * fast-check's run parameters (`numRuns`, `seed`, ...) and the Vitest timeout of the whole property.
 * Those typed by the generated values (`examples`, `reporter`, `plugins`) are left out: one options
 * type serves every property, and fast-check's `Parameters<T>` is invariant in `T`.
 */
export interface PropertyOptions {
  readonly timeout?: number
  readonly fastCheck?: Omit<fc.Parameters<never>, "examples" | "reporter" | "asyncReporter" | "plugins">
}

const combined = <A extends Arbitraries>(arbitraries: A): fc.Arbitrary<Values<A>> =>
  (Array.isArray(arbitraries)
    ? fc.tuple(...(arbitraries as ReadonlyArray<fc.Arbitrary<unknown>>))
    : fc.record(arbitraries as { readonly [key: string]: fc.Arbitrary<unknown> })) as unknown as fc.Arbitrary<
      Values<A>
    >

const parameters = (options: PropertyOptions | undefined) => options?.fastCheck ?? {}

/** A property whose body returns `false` or throws to falsify it. */
export const prop = <const A extends Arbitraries>(
  name: string,
  arbitraries: A,
  body: (values: Values<A>) => boolean | void,
  options?: PropertyOptions
): void =>
  it(
    name,
    () => fc.assert(fc.property(combined(arbitraries), (values) => body(values) !== false), parameters(options)),
    options?.timeout
  )

const testServices = Layer.mergeAll(TestConsole.layer, TestClock.layer())

/**
 * A property whose body is an Effect: a failure, a defect or `false` falsifies
 * it. Every run gets its own scope and its own `TestClock`.
 */
export const effectProp = <const A extends Arbitraries, E>(
  name: string,
  arbitraries: A,
  body: (values: Values<A>) => Effect.Effect<boolean | void, E, Scope.Scope>,
  options?: PropertyOptions
): void =>
  it(
    name,
    () =>
      fc.assert(
        fc.asyncProperty(combined(arbitraries), (values) =>
          Effect.runPromise(
            Effect.suspend(() => body(values)).pipe(
              Effect.map((result) => result !== false),
              Effect.scoped,
              Effect.provide(testServices)
            )
          )),
        parameters(options)
      ),
    options?.timeout
  )
