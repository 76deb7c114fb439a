import type { Fault, FaultContext, Stage } from "../TestServer.js"

const dropStages: ReadonlyArray<Stage> = ["greeting", "ehlo", "mail", "rcpt", "data", "body"]

/** @internal */
export const randomFaults = (options: {
  readonly seed: number
  readonly transient?: number | undefined
  readonly permanent?: number | undefined
  readonly drop?: number | undefined
}): (context: FaultContext) => Fault | undefined => {
  const transientP = options.transient ?? 0
  const permanentP = options.permanent ?? 0
  const dropP = options.drop ?? 0
  const plans = new Map<
    number,
    { readonly random: () => number; readonly drop: Stage | undefined; readonly kind: Fault }
  >()
  const planFor = (connection: number) => {
    const existing = plans.get(connection)
    if (existing !== undefined) return existing
    const random = mulberry32((options.seed ^ Math.imul(connection, 0x9e3779b1)) >>> 0)
    const dropped = random() < dropP
    const plan = {
      random,
      drop: dropped ? dropStages[Math.floor(random() * dropStages.length)] : undefined,
      kind: random() < 0.5 ? { _tag: "Close" as const } : { _tag: "Reset" as const }
    }
    plans.set(connection, plan)
    return plan
  }
  const reply = (text: string): Fault => ({ _tag: "Reply", text, close: false })
  return (context) => {
    const plan = planFor(context.connection)
    if (plan.drop === context.stage) {
      // One drop per connection; the plan is not needed after it.
      plans.delete(context.connection)
      return plan.kind
    }
    if (context.stage !== "mail" && context.stage !== "rcpt" && context.stage !== "data") return undefined
    const r = plan.random()
    if (r < transientP) return reply(`${context.stage === "rcpt" ? 450 : 451} 4.3.0 random transient failure`)
    if (r < transientP + permanentP) {
      return reply(`${context.stage === "rcpt" ? 550 : 554} 5.7.1 random permanent failure`)
    }
    return undefined
  }
}

/** A small, fast, seedable PRNG (Tommy Ettinger's mulberry32): reproducible load, no dependency. */
const mulberry32 = (seed: number): () => number => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
