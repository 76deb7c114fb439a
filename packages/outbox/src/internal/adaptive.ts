import * as Duration from "effect/Duration"
import type * as RateLimiter from "effect/persistence/RateLimiter"

/**
 * How an adaptive rate limit moves, step for step as Effect's memory store
 * moves it (cooldown, learning, learned): pure functions from a key's state
 * to the answer and the next state, which `limits.ts` reads and writes in
 * one transaction per call.
 */

/**
 * The adaptive state of one key, as Effect's memory store keeps it: a row of
 * `<prefix>_adaptive`. Times are milliseconds since the epoch, kept as
 * doubles because a learned rate spaces requests by fractions of one.
 *
 * @internal
 */
export interface AdaptiveState {
  readonly phase: RateLimiter.AdaptivePhase
  readonly epoch: number
  readonly cooldownUntil: number
  readonly learningStartedAt: number
  readonly observedTokens: number
  readonly learnedLimit: number
  readonly learnedWindowMillis: number
  readonly expiresAt: number
}

// The constants of Effect's memory store: the same key behaves the same on either store.
const adaptiveStateTtlGraceMillis = 60_000
const adaptiveStateMaxWindowMillis = 60 * 60 * 1_000

const clampAdaptiveDurationMillis = (millis: number): number => {
  if (Number.isNaN(millis) || millis <= 0) return 1
  return Math.min(millis, adaptiveStateMaxWindowMillis)
}

const cooldown = (cooldownUntil: number, epoch: number): AdaptiveState => ({
  phase: "cooldown",
  epoch,
  cooldownUntil,
  learningStartedAt: 0,
  observedTokens: 0,
  learnedLimit: 0,
  learnedWindowMillis: 0,
  expiresAt: cooldownUntil + adaptiveStateTtlGraceMillis
})

/**
 * One `adaptiveConsume` on a key's live state (undefined when it has none):
 * what to answer and the state to store (undefined: leave it as it is).
 * Step for step the transitions of Effect's memory store.
 *
 * @internal
 */
export const adaptiveConsumeStep = (
  state: AdaptiveState | undefined,
  options: RateLimiter.AdaptiveConsumeOptions,
  now: number
): readonly [RateLimiter.AdaptiveConsumeResult, AdaptiveState | undefined] => {
  if (state === undefined) return [{ delay: Duration.zero, epoch: 0, phase: "inactive" }, undefined]
  switch (state.phase) {
    case "cooldown": {
      if (state.cooldownUntil > now) {
        return [{ delay: Duration.millis(state.cooldownUntil - now), epoch: state.epoch, phase: "cooldown" }, undefined]
      }
      const learning: AdaptiveState = {
        ...state,
        phase: "learning",
        epoch: state.epoch + 1,
        learningStartedAt: now,
        observedTokens: options.tokens,
        expiresAt: now + Duration.toMillis(options.fallbackWindow) + adaptiveStateTtlGraceMillis
      }
      return [{ delay: Duration.zero, epoch: learning.epoch, phase: "learning" }, learning]
    }
    case "learning":
      return [
        { delay: Duration.zero, epoch: state.epoch, phase: "learning" },
        { ...state, observedTokens: state.observedTokens + options.tokens }
      ]
    case "learned": {
      const refillRateMillis = state.learnedWindowMillis / state.learnedLimit
      const restart = state.cooldownUntil <= now
      const observedTokens = (restart ? 0 : state.observedTokens) + options.tokens
      const cooldownUntil = (restart ? now : state.cooldownUntil) + refillRateMillis * options.tokens
      const ttl = cooldownUntil - now
      const elapsed = observedTokens * refillRateMillis - ttl
      const windowNumber = Math.floor((observedTokens - 1) / state.learnedLimit)
      const remaining = windowNumber * state.learnedWindowMillis - elapsed
      return [
        { delay: remaining <= 0 ? Duration.zero : Duration.millis(remaining), epoch: state.epoch, phase: "learned" },
        { ...state, observedTokens, cooldownUntil }
      ]
    }
    case "inactive":
      return [{ delay: Duration.zero, epoch: state.epoch, phase: state.phase }, undefined]
  }
}

/**
 * One `adaptiveFeedback` on a key's live state: the state to store
 * (undefined: leave it as it is). Only a 429 with a retry-after counts, as
 * in Effect's memory store.
 *
 * @internal
 */
export const adaptiveFeedbackStep = (
  state: AdaptiveState | undefined,
  options: RateLimiter.AdaptiveFeedbackOptions,
  now: number
): AdaptiveState | undefined => {
  if (options.status !== 429 || options.retryAfter === undefined) return undefined
  const retryAfterMillis = clampAdaptiveDurationMillis(Duration.toMillis(options.retryAfter))
  const cooldownUntil = now + retryAfterMillis
  if (state === undefined) return options.epoch === 0 ? cooldown(cooldownUntil, 0) : undefined
  if (state.epoch !== options.epoch) return undefined
  switch (state.phase) {
    case "cooldown": {
      const until = Math.max(state.cooldownUntil, cooldownUntil)
      return { ...state, cooldownUntil: until, expiresAt: until + adaptiveStateTtlGraceMillis }
    }
    case "learning": {
      const acceptedTokens = state.observedTokens - options.tokens
      if (acceptedTokens <= 0) return cooldown(cooldownUntil, state.epoch)
      const learnedWindowMillis = clampAdaptiveDurationMillis(now - state.learningStartedAt + retryAfterMillis)
      return {
        phase: "learned",
        epoch: state.epoch + 1,
        cooldownUntil: state.learningStartedAt + learnedWindowMillis,
        learningStartedAt: state.learningStartedAt,
        observedTokens: acceptedTokens,
        learnedLimit: acceptedTokens,
        learnedWindowMillis,
        expiresAt: now + learnedWindowMillis + adaptiveStateTtlGraceMillis
      }
    }
    case "learned":
      return cooldown(cooldownUntil, state.epoch)
    case "inactive":
      return undefined
  }
}
