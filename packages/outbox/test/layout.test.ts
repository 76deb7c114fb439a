import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/**
 * The package's layout as issue 21 asks for it: no run-time import cycle
 * among the source files (public modules import `internal/`, never the
 * reverse, except for types), and no source file over 400 lines.
 */

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src")

const sources = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(path.join(dir, entry.name))
      : entry.name.endsWith(".ts")
      ? [path.join(dir, entry.name)]
      : []
  )

/** Relative imports kept at run time: `import type` and type-only re-exports are erased. */
const runtimeImports = (file: string): Array<string> =>
  [...fs.readFileSync(file, "utf8").matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+"(\.[^"]+)"/gms)]
    .map((match) => path.resolve(path.dirname(file), match[1].replace(/\.js$/, ".ts")))

/** A cycle of run-time imports, as the files on it, or undefined. */
const findCycle = (graph: Map<string, Array<string>>): Array<string> | undefined => {
  const done = new Set<string>()
  const visit = (file: string, trail: Array<string>): Array<string> | undefined => {
    const at = trail.indexOf(file)
    if (at >= 0) return [...trail.slice(at), file]
    if (done.has(file)) return undefined
    for (const next of graph.get(file) ?? []) {
      const cycle = visit(next, [...trail, file])
      if (cycle !== undefined) return cycle
    }
    done.add(file)
    return undefined
  }
  for (const file of graph.keys()) {
    const cycle = visit(file, [])
    if (cycle !== undefined) return cycle
  }
  return undefined
}

describe("the outbox's source layout", () => {
  const files = sources(src)

  it("has no run-time import cycle", () => {
    const graph = new Map(files.map((file) => [file, runtimeImports(file)]))
    expect(findCycle(graph)?.map((file) => path.relative(src, file))).toBeUndefined()
  })

  it("has no source file over 400 lines", () => {
    const long = files
      .map((file) => ({ file: path.relative(src, file), lines: fs.readFileSync(file, "utf8").split("\n").length }))
      .filter(({ lines }) => lines > 400)
    expect(long).toEqual([])
  })
})
