/**
 * Bounded memory: a message much larger than what signing may hold is
 * signed and read through in a child process (utils/signLarge.ts) that
 * reports the most memory alive at once, heap and ArrayBuffers, measured
 * after full collections. The control (holding the same message) shows the
 * measure sees a held body.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import * as Path from "node:path"

const script = Path.join(import.meta.dirname, "utils", "signLarge.ts")

const run = (mib: number, canonicalization: string, hold = false) =>
  Effect.callback<{ readonly octets: number; readonly peakMiB: number }, Error>((resume) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "--expose-gc", script, String(mib), canonicalization, ...(hold ? ["hold"] : [])],
      { cwd: Path.join(import.meta.dirname, ".."), maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error !== null) resume(Effect.fail(new Error(`${error.message}\n${stderr}`)))
        else resume(Effect.succeed(JSON.parse(stdout)))
      }
    )
  })

describe("signing a large stream", () => {
  for (const [mib, canonicalization] of [[128, "relaxed/relaxed"], [64, "simple/simple"]] as const) {
    it.effect(
      `${mib} MiB, ${canonicalization}: read twice through, with under 64 MiB alive at any time`,
      () =>
        Effect.gen(function*() {
          const signed = yield* run(mib, canonicalization)
          expect(signed.octets).toBeGreaterThan(mib * 1048576)
          expect(signed.peakMiB).toBeLessThan(64)
          // The control: holding the message shows up in the same measure.
          const held = yield* run(mib, canonicalization, true)
          expect(held.peakMiB).toBeGreaterThan(mib)
        }),
      { timeout: 180_000 }
    )
  }
})
