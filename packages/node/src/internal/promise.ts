import { SmtpClient } from "@effect-smtp/client"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import type { PromiseClient } from "../NodeSmtp.js"

/**
 * Runs an Effect as a promise that rejects with the typed error itself, not
 * Effect's wrapper around it, and with an AbortError when the signal
 * interrupted it.
 */
const runPromise = <A, E>(
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

/** A call made after `close()` (public as `NodeSmtp.ClientClosedError`). */
export class ClientClosedError extends Data.TaggedError("ClientClosedError")<{
  /** The call made after `close()`. */
  readonly operation: "send" | "verify" | "sendMail"
}> {
  override get message(): string {
    return `${this.operation} was called after close(): the client's connections are closed and nothing was sent. Make a new client with NodeSmtp.promiseClient to send again.`
  }
}

/**
 * The promise client over a runtime that provides the `SmtpClient`, and the
 * runner its calls go through, for clients that add calls of their own.
 * Closed as soon as `close()` is called, not when it ends: a call made
 * meanwhile would otherwise meet a runtime half disposed, which rejects with
 * a bare string.
 *
 * @internal
 */
export const makeRunner = (runtime: ManagedRuntime.ManagedRuntime<SmtpClient, never>): {
  readonly run: <A, E>(
    operation: ClientClosedError["operation"],
    effect: Effect.Effect<A, E, SmtpClient>,
    signal: AbortSignal | undefined
  ) => Promise<A>
  readonly client: PromiseClient
} => {
  let closed = false
  const run = <A, E>(
    operation: ClientClosedError["operation"],
    effect: Effect.Effect<A, E, SmtpClient>,
    signal: AbortSignal | undefined
  ): Promise<A> => closed ? Promise.reject(new ClientClosedError({ operation })) : runPromise(runtime, effect, signal)
  return {
    run,
    client: {
      send: (mail, sendOptions) => run("send", SmtpClient.send(mail), sendOptions?.signal),
      verify: (verifyOptions) => run("verify", verify, verifyOptions?.signal),
      close: () => {
        closed = true
        return runtime.dispose()
      }
    }
  }
}
