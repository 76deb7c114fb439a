/**
 * What the server keeps about one connection, and the limits it holds a
 * session to.
 */
import type { Limits, Stage } from "../../TestServer.js"

/**
 * One connection of the server, as its transport holds it: a handle to the
 * record the session fills.
 *
 * @internal
 */
export interface SessionHandle {
  readonly id: number
}

/** @internal */
export interface SessionRecord extends SessionHandle {
  readonly commands: Array<string>
  readonly faults: Array<Stage>
  tls: boolean
  open: boolean
  pipelinedAfterBody: number
  refusedAfterData: number
}

/** @internal */
export type ResolvedLimits = Required<{ readonly [K in keyof Limits]: number }>

const defaults: ResolvedLimits = {
  maxLineBytes: 64 * 1024,
  maxCommands: 100_000,
  maxContinuationLines: 100_000,
  maxStoredBytes: 1024 * 1024
}

/** @internal */
export const resolveLimits = (limits: Limits | undefined): ResolvedLimits => ({
  maxLineBytes: limits?.maxLineBytes ?? defaults.maxLineBytes,
  maxCommands: limits?.maxCommands ?? defaults.maxCommands,
  maxContinuationLines: limits?.maxContinuationLines ?? defaults.maxContinuationLines,
  maxStoredBytes: limits?.maxStoredBytes ?? defaults.maxStoredBytes
})
