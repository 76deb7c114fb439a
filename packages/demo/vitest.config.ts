import { execFileSync } from "node:child_process"
import * as Path from "node:path"
import { mergeConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

// The blocks are extracted from the documentation as it is now, so that
// `pnpm test` runs them even when `pnpm check` did not run first.
execFileSync(process.execPath, [Path.resolve(import.meta.dirname, "../../scripts/readme-blocks.mjs")], {
  stdio: "ignore"
})

export default mergeConfig(shared, {})
