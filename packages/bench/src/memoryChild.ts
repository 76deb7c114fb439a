/**
 * One memory case in a process of its own (spawned by memory.ts), so that no
 * other case's heap counts: warm up with a small message, collect garbage,
 * take the baseline, send one large message, print the peak's growth over
 * the baseline as JSON.
 *
 * The peak is the kernel's high-water mark (VmHWM, reset through
 * /proc/self/clear_refs) where Linux offers it, and in any case the highest
 * of `process.memoryUsage.rss()` sampled every 10 ms.
 *
 * Arguments: port, approximate size in bytes.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as EffectSmtp from "./effectSmtp.js"
import * as Message from "./message.js"

const [port, size] = process.argv.slice(2).map(Number)

const highWaterMark = (): number | undefined => {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(Fs.readFileSync("/proc/self/status", "latin1"))
    return match === null ? undefined : Number(match[1]) * 1024
  } catch {
    return undefined
  }
}

const resetHighWaterMark = (): boolean => {
  try {
    Fs.writeFileSync("/proc/self/clear_refs", "5")
    return true
  } catch {
    return false
  }
}

const collectGarbage = () => (globalThis as { gc?: () => void }).gc?.()

const base = {
  host: "127.0.0.1",
  port,
  from: Message.from,
  to: Message.to,
  count: 1,
  inFlight: 1,
  connections: { _tag: "PerMessage" },
  telemetry: "on"
} as const

const program = Effect.gen(function*() {
  const message = Message.large(size)
  yield* EffectSmtp.send({ ...base, content: Message.ofSize(2048) })
  collectGarbage()
  const kernel = resetHighWaterMark()
  const baseline = process.memoryUsage.rss()
  let sampled = baseline
  const timer = setInterval(() => {
    sampled = Math.max(sampled, process.memoryUsage.rss())
  }, 10)
  yield* EffectSmtp.send({ ...base, content: message.stream, size: message.size }).pipe(
    Effect.ensuring(Effect.sync(() => clearInterval(timer)))
  )
  sampled = Math.max(sampled, process.memoryUsage.rss())
  const peak = Math.max(sampled, (kernel ? highWaterMark() : undefined) ?? 0)
  process.stdout.write(
    `${JSON.stringify({ size: message.size, baseline, peak, growth: peak - baseline, kernel })}\n`
  )
})

NodeRuntime.runMain(program)
