// Extracts every ```ts block of README.md into packages/demo/readme/ (or the
// directory given as the first argument), so that `pnpm check` type-checks the
// README's examples like any other source file, and the consumer stage does
// against the published packages.
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const out = process.argv[2] === undefined ? Path.join(root, "packages/demo/readme") : Path.resolve(process.argv[2])
const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1])

Fs.rmSync(out, { recursive: true, force: true })
Fs.mkdirSync(out, { recursive: true })
blocks.forEach((code, i) => {
  // Each block is its own module, so names may repeat across blocks.
  Fs.writeFileSync(Path.join(out, `block${i + 1}.ts`), `// Generated from README.md: do not edit.\n${code}export {}\n`)
})
console.log(`README.md: ${blocks.length} TypeScript blocks extracted for type-checking`)
