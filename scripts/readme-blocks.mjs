// Extracts the ```ts blocks of the documentation into TypeScript modules, so
// that `pnpm check` type-checks them like any other source file, and the
// tests of packages/demo (test/docBlocks.test.ts) run each one against a
// local server.
//
//   node scripts/readme-blocks.mjs            README.md and docs/*.md into packages/demo/readme/
//   node scripts/readme-blocks.mjs <dir>      README.md only, into <dir> (the consumer stage: its
//                                             application installs what README's blocks import)
//   node scripts/readme-blocks.mjs <dir> --docs   both, into <dir>
//
// README.md's blocks are block1.ts, block2.ts, ...; a doc's are
// <doc>-block1.ts, ... (docs/outbox.md: outbox-block1.ts). blocks.json lists
// every block with the file and line it comes from.
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const args = process.argv.slice(2)
const dirArg = args.find((arg) => !arg.startsWith("--"))
const out = dirArg === undefined ? Path.join(root, "packages/demo/readme") : Path.resolve(dirArg)
const withDocs = dirArg === undefined || args.includes("--docs")

const sources = [{ file: "README.md", prefix: "block" }]
if (withDocs) {
  for (const name of Fs.readdirSync(Path.join(root, "docs")).filter((f) => f.endsWith(".md")).sort()) {
    sources.push({ file: `docs/${name}`, prefix: `${Path.basename(name, ".md")}-block` })
  }
}

Fs.rmSync(out, { recursive: true, force: true })
Fs.mkdirSync(out, { recursive: true })
const manifest = []
for (const { file, prefix } of sources) {
  const text = Fs.readFileSync(Path.join(root, file), "utf8")
  const blocks = [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)]
  blocks.forEach((match, i) => {
    const line = text.slice(0, match.index).split("\n").length
    const name = `${prefix}${i + 1}`
    // Each block is its own module, so names may repeat across blocks.
    Fs.writeFileSync(
      Path.join(out, `${name}.ts`),
      `// Generated from ${file} (line ${line}): do not edit.\n${match[1]}export {}\n`
    )
    manifest.push({ name, file, line })
  })
  if (blocks.length > 0) console.log(`${file}: ${blocks.length} TypeScript blocks extracted`)
}
Fs.writeFileSync(Path.join(out, "blocks.json"), `${JSON.stringify(manifest, null, 2)}\n`)
