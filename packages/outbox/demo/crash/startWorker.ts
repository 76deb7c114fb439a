/**
 * Runs `demo/crash/worker.ts` as a real child process (node + tsx), and
 * kills it with SIGKILL when asked: no finalizer, no flush, as a crash; or
 * stops it with SIGTERM, as a process manager does.
 */
import * as Effect from "effect/Effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

export interface Summary {
  readonly n: number
  readonly state: "Pending" | "Sent" | "Failed" | "Unknown"
  readonly attempts: number
}

export interface Worker {
  readonly child: ChildProcess
  /** Lines the worker printed so far. */
  readonly lines: Array<string>
  /** Resolves when the worker exits: its summary, if it printed one, and whether it was killed. */
  readonly exited: Effect.Effect<{ readonly summary: ReadonlyArray<Summary> | undefined; readonly killed: boolean }>
  /** SIGKILL now, if still running. */
  readonly kill: Effect.Effect<boolean>
  /** SIGTERM now, if still running: the worker stops gracefully and exits with 0. */
  readonly stop: Effect.Effect<boolean>
}

/** Starts a worker with `env` (see worker.ts); it is killed with the scope if still running. */
export const startWorker = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync((): Worker => {
      const child = spawn(process.execPath, ["--import", "tsx", "demo/crash/worker.ts"], {
        cwd: packageDir,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      const lines: Array<string> = []
      let partial = ""
      child.stdout?.on("data", (data: Buffer) => {
        const text = partial + data.toString("utf8")
        const parts = text.split("\n")
        partial = parts.pop() ?? ""
        lines.push(...parts)
      })
      const stderr: Array<string> = []
      child.stderr?.on("data", (data: Buffer) => stderr.push(data.toString("utf8")))
      let killed = false
      const exit = new Promise<void>((resolve) => child.on("exit", () => resolve()))
      return {
        child,
        lines,
        exited: Effect.promise(() => exit).pipe(
          Effect.map(() => {
            const line = lines.find((l) => l.startsWith("SUMMARY "))
            if (line === undefined && !killed && child.exitCode !== 0) {
              // A worker that failed on its own is a failure of the test, with its reason.
              throw new Error(`worker exited with ${child.exitCode}: ${stderr.join("").slice(-2000)}`)
            }
            return {
              summary: line === undefined ? undefined : JSON.parse(line.slice("SUMMARY ".length)) as Array<Summary>,
              killed
            }
          })
        ),
        kill: Effect.sync(() => {
          if (child.exitCode !== null || child.signalCode !== null) return false
          killed = true
          return child.kill("SIGKILL")
        }),
        stop: Effect.sync(() => {
          if (child.exitCode !== null || child.signalCode !== null) return false
          return child.kill("SIGTERM")
        })
      }
    }),
    (worker) => Effect.andThen(worker.kill, Effect.promise(() => new Promise((r) => setImmediate(r))))
  )
