/**
 * Carrying out a fault on a connection, and how the session goes on after it.
 */
import * as Effect from "effect/Effect"
import type { Fault } from "../../TestServer.js"
import { withCrlf } from "./ehlo.js"
import type { ClientLink } from "./link.js"

/**
 * How the session goes on after a fault: with the next command (the fault
 * answered), as if no fault had struck (it only delayed), or not at all.
 *
 * @internal
 */
export type Next = "continue" | "behave" | "stop"

const encoder = new TextEncoder()

/**
 * What a fault needs from the server.
 *
 * @internal
 */
export interface FaultHost {
  /** Writes after the configured reply delay. */
  readonly send: (link: ClientLink, text: string | Uint8Array) => Effect.Effect<boolean>
  /** The configured reply delay alone. */
  readonly delayed: Effect.Effect<void>
  readonly maxContinuationLines: number
}

/**
 * Carries out `fault` on `link`.
 *
 * @internal
 */
export const strike = (host: FaultHost, link: ClientLink, fault: Fault): Effect.Effect<Next> => {
  switch (fault._tag) {
    case "Delay":
      return Effect.as(Effect.sleep(fault.duration), "behave" as const)
    case "Close":
      return Effect.as(link.end, "stop" as const)
    case "Reset":
      return Effect.as(link.reset, "stop" as const)
    case "Stall":
      return Effect.never
    case "Garbage":
      return Effect.andThen(host.send(link, fault.bytes), Effect.never)
    case "LongLine":
      return Effect.andThen(
        host.send(link, `250 ${"x".repeat(Math.max(0, fault.length - 4))}\r\n`),
        Effect.never
      )
    case "EndlessContinuation": {
      // In batches, each waiting for the transport to take the last: the
      // client's reading speed bounds the memory, the loop limit the time.
      const batch = encoder.encode(`${fault.code}-continued without end\r\n`.repeat(64))
      const loop = (sent: number): Effect.Effect<void> =>
        sent >= host.maxContinuationLines
          ? Effect.void
          : Effect.flatMap(link.write(batch), (ok) => (ok ? loop(sent + 64) : Effect.void))
      return Effect.andThen(Effect.andThen(host.delayed, loop(0)), Effect.never)
    }
    case "Reply":
      return Effect.flatMap(
        host.send(link, withCrlf(fault.text)),
        () => fault.close ? Effect.as(link.end, "stop" as const) : Effect.succeed("continue" as const)
      )
    case "StartTlsInjection": {
      const ready = "220 2.0.0 ready to start TLS\r\n"
      const injection = fault.split
        ? Effect.andThen(host.send(link, ready), link.write(fault.injected))
        : host.send(link, `${ready}${fault.injected}`)
      return Effect.andThen(injection, Effect.never)
    }
  }
}
