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
// A README.md block is named after the heading above it (quick-start.ts;
// testing-an-application-that-sends-mail-2.ts when a section has several), a
// doc's the same after its file's name (outbox--the-outbox-....ts).
// blocks.json lists every block with the file and line it comes from.
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const args = process.argv.slice(2)
const dirArg = args.find((arg) => !arg.startsWith("--"))
const out = dirArg === undefined ? Path.join(root, "packages/demo/readme") : Path.resolve(dirArg)
const withDocs = dirArg === undefined || args.includes("--docs")

const sources = [{ file: "README.md", prefix: "" }]
if (withDocs) {
  for (const name of Fs.readdirSync(Path.join(root, "docs")).filter((f) => f.endsWith(".md")).sort()) {
    sources.push({ file: `docs/${name}`, prefix: `${Path.basename(name, ".md")}--` })
  }
}

Fs.rmSync(out, { recursive: true, force: true })
Fs.mkdirSync(out, { recursive: true })
const manifest = []
const slug = (heading) =>
  heading.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "")
for (const { file, prefix } of sources) {
  const text = Fs.readFileSync(Path.join(root, file), "utf8")
  const blocks = [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)]
  // A block is named after the heading it stands under (numbered when a
  // section holds several), so adding a block elsewhere renames no other.
  const named = blocks.map((match) => {
    const before = text.slice(0, match.index)
    const headings = [...before.matchAll(/^#{1,4} (.+)$/gm)]
    const heading = headings.length === 0 ? "top" : slug(headings[headings.length - 1][1])
    return { match, heading, line: before.split("\n").length }
  })
  named.forEach(({ match, heading, line }) => {
    const same = named.filter((b) => b.heading === heading)
    const name = `${prefix}${heading}${same.length > 1 ? `-${same.findIndex((b) => b.match === match) + 1}` : ""}`
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
