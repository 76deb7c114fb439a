import { SmtpClient } from "@effect-smtp/client"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import type { PromiseClient } from "../NodeSmtp.js"

/**
 * Runs an Effect as a promise that rejects with the typed error itself, not
 * Effect's wrapper around it, and with an AbortError when the signal
 * interrupted it.
 *
 * @internal
 */
export const runPromise = <A, E>(
  runtime: ManagedRuntime.ManagedRuntime<SmtpClient, never>,
  effect: Effect.Effect<A, E, SmtpClient>,
  signal: AbortSignal | undefined
): Promise<A> =>
  runtime.runPromiseExit(effect, { signal }).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    const failure = Cause.findErrorOption(exit.cause)
    if (Option.isSome(failure)) throw failure.value
    throw Cause.hasInterruptsOnly(exit.cause)
      ? new DOMException("The send was aborted", "AbortError")
      : Cause.squash(exit.cause)
  })

const verify = Effect.gen(function*() {
  const client = yield* SmtpClient
  yield* client.verify
})

/**
 * The promise client over a runtime that provides the `SmtpClient`.
 *
 * @internal
 */
export const makePromiseClient = (runtime: ManagedRuntime.ManagedRuntime<SmtpClient, never>): PromiseClient => ({
  send: (mail, sendOptions) => runPromise(runtime, SmtpClient.send(mail), sendOptions?.signal),
  verify: (verifyOptions) => runPromise(runtime, verify, verifyOptions?.signal),
  close: () => runtime.dispose()
})
