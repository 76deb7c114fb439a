/**
 * Every TypeScript block of README.md and docs/*.md is run by a test here:
 * a block added to the documentation without one fails this test. (None is
 * exempt today; a block that cannot run, such as one needing a SaaS, would
 * be listed in `typeCheckedOnly` with the reason.)
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"

const typeCheckedOnly: Record<string, string> = {}

describe("documentation blocks", () => {
  it("each is imported and run by a test of packages/demo", () => {
    const here = import.meta.dirname
    const blocks: ReadonlyArray<{ name: string; file: string; line: number }> = JSON.parse(
      Fs.readFileSync(Path.join(here, "../readme/blocks.json"), "utf8")
    )
    const tests = ["readmeBlocks.test.ts", "docsBlocks.test.ts"].map((f) => Fs.readFileSync(Path.join(here, f), "utf8"))
    const notRun = blocks.filter(
      (b) => typeCheckedOnly[b.name] === undefined && !tests.some((t) => t.includes(`"../readme/${b.name}.js"`))
    )
    expect(notRun.map((b) => `${b.file}:${b.line} (${b.name})`)).toEqual([])
    expect(blocks.length).toBeGreaterThanOrEqual(19)
  })
})
