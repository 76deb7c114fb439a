import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as Semaphore from "effect/Semaphore"
import type { TokenProviderCredentials } from "../SmtpClient.js"
import { AuthenticationError } from "../SmtpError.js"

interface Cached {
  readonly token: Redacted.Redacted<string>
  /** Epoch millis after which the token is refreshed; Infinity when no lifetime is known. */
  readonly refreshAt: number
}

/** @internal */
export interface TokenCache {
  readonly get: Effect.Effect<Redacted.Redacted<string>, AuthenticationError>
  /** Forgets `token` if it is still the cached one: the server refused it. */
  readonly invalidate: (token: Redacted.Redacted<string>) => Effect.Effect<void>
}

/**
 * Tokens cached until shortly before they expire. Concurrent callers share
 * one refresh (single flight): the permit serialises refreshes, and whoever
 * waited finds the fresh token in the cache.
 *
 * @internal
 */
export const make = (credentials: TokenProviderCredentials): Effect.Effect<TokenCache> =>
  Effect.gen(function*() {
    const permit = yield* Semaphore.make(1)
    const margin = Duration.toMillis(credentials.refreshBefore ?? Duration.minutes(1))
    let cached: Cached | undefined = undefined

    const fresh = (now: number) => cached !== undefined && now < cached.refreshAt ? cached.token : undefined

    const get: Effect.Effect<Redacted.Redacted<string>, AuthenticationError> = Effect.flatMap(
      Clock.currentTimeMillis,
      (now) => {
        const hit = fresh(now)
        return hit !== undefined ? Effect.succeed(hit) : permit.withPermits(1)(
          Effect.gen(function*() {
            const again = fresh(yield* Clock.currentTimeMillis)
            if (again !== undefined) return again
            // The provider's own error is not repeated: it may quote what it was given.
            const token = yield* Effect.mapError(
              credentials.tokenProvider,
              () => new AuthenticationError({ reason: "TokenUnavailable", mechanism: credentials.mechanism })
            )
            const issued = yield* Clock.currentTimeMillis
            cached = {
              token: token.accessToken,
              refreshAt: token.expiresIn === undefined
                ? Infinity
                : issued + Duration.toMillis(token.expiresIn) - margin
            }
            return token.accessToken
          })
        )
      }
    )

    /** Forgets `token` if it is still the cached one: the server refused it. */
    const invalidate = (token: Redacted.Redacted<string>) =>
      Effect.sync(() => {
        if (cached?.token === token) cached = undefined
      })

    return { get, invalidate }
  })
