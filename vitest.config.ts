// Vitest 5 no longer reads vitest.workspace.ts on its own: this root config
// runs the projects it lists.
import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.ts"

export default defineConfig({ test: { projects } })
