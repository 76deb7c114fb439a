#!/usr/bin/env bash
# The consumer stage: what a user does with the published packages, and the
# first difference from what they expect fails it.
#
#  1. build, then `pnpm pack` every publishable package; each tarball holds
#     dist/ (ESM, .d.ts, maps), src/ for the maps, README, LICENSE, CHANGELOG,
#     and no tests, fixtures or tsconfig; its exports resolve only into dist/
#     and close ./internal/*; publint (strict) and attw (esm-only profile,
#     every public module) are clean; sizes and file counts are printed;
#  2. in a temp directory outside the workspace, `npm install` the tarballs
#     with `effect` named without a version, as the README tells a user (npm's
#     latest), and the app's own npm dependencies (smtp-server, the
#     OpenTelemetry SDK, TypeScript, esbuild); exactly one copy of effect;
#  3. an ESM app sends to a real smtp-server through NodeSmtp.layer and
#     through the services composed by hand, reading the metrics from the
#     OpenTelemetry SDK; a CommonJS app require()s and sends; the app bundled
#     by esbuild runs; each on Node 22 and 24 (npm's `node` package: the
#     packages need Node 22.19 or later, and this machine may have Node 20);
#  4. a TypeScript app and the README's code blocks type-check with strict,
#     exactOptionalPropertyTypes and skipLibCheck false, with nodenext and
#     with bundler resolution;
#  5. the same on the lowest supported effect (the peer range's floor);
#  6. prints what `npm install @effect-smtp/node effect` brings into an
#     empty application.
#
# Run by .ci/stages/20-consumer.sh and by `pnpm release:check`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/scripts/consumer"
packages=(client node opentelemetry message testing outbox)
# Packed and checked (files, exports, peers, publint, attw) but not installed
# into the apps: the outbox brings the SQL and cluster stack, which the apps
# here do not use (its own tests run it from the workspace).
packed_only=(outbox)
node_lines=(22 24)
# The app's own dependencies, as a user would pick them (not from the workspace).
# effect as a user gets it: `npm install effect`, no version (npm's latest).
effect_version="$(npm view effect version)"
effect_floor="$(node -p "require('$root/packages/client/package.json').peerDependencies.effect.replace(/^\\^/, '')")"
app_deps=(
  "smtp-server@3.21.6"
  "@opentelemetry/api@1.9.0"
  "@opentelemetry/sdk-metrics@2.12.0"
  "typescript@5.9.3"
  "esbuild@0.28.2"
  "@types/node@22"
)

work="$(mktemp -d "${TMPDIR:-/tmp}/effect-smtp-consumer.XXXXXX")"
case "$work" in "$root"/*) echo "consumer: the temp directory must be outside the workspace" >&2; exit 1 ;; esac
trap 'rm -rf "$work"' EXIT
started=$SECONDS

step() { printf '\n-- consumer: %s\n' "$*"; }
fail() {
  printf 'consumer: FAILED: %s\n' "$*" >&2
  exit 1
}
npm_quiet() { npm --no-audit --no-fund --loglevel=error "$@"; }

step "build (pnpm build)"
(cd "$root" && pnpm build)

step "pack"
mkdir -p "$work/tarballs"
tarballs=()
install_tarballs=()
printf '%-34s %10s %8s\n' "tarball" "bytes" "files"
for p in "${packages[@]}"; do
  rm -f "$root/packages/$p"/*.tgz
  (cd "$root/packages/$p" && pnpm pack --pack-destination "$work/tarballs" >/dev/null)
  tarball="$(ls "$work/tarballs"/effect-smtp-"$p"-*.tgz)"
  tarballs+=("$tarball")
  [[ " ${packed_only[*]} " == *" $p "* ]] || install_tarballs+=("$tarball")
  listing="$(tar -tzf "$tarball" | sed 's#^package/##')"
  printf '%-34s %10s %8s\n' "$(basename "$tarball")" "$(stat -c %s "$tarball")" "$(wc -l <<<"$listing")"
  # What a user needs, and nothing of the workspace's own.
  for wanted in package.json README.md LICENSE CHANGELOG.md dist/index.js dist/index.d.ts dist/index.js.map dist/index.d.ts.map src/index.ts; do
    grep -qx "$wanted" <<<"$listing" || fail "$(basename "$tarball") lacks $wanted"
  done
  stray="$(grep -E '(^|/)test/|\.test\.|(^|/)fixtures/|tsconfig|\.tsbuildinfo$|vitest' <<<"$listing" || true)"
  [[ -z $stray ]] || fail "$(basename "$tarball") ships files a user does not need: $stray"
  # Every export resolves into dist/ (or is closed), in the tarball's own package.json.
  tar -xzOf "$tarball" package/package.json | node -e '
    const pkg = JSON.parse(require("fs").readFileSync(0, "utf8"))
    const targets = []
    const walk = (v) => (v === null ? targets.push(null) : typeof v === "string" ? targets.push(v) : Object.values(v).forEach(walk))
    walk(pkg.exports)
    const bad = targets.filter((t) => t !== null && t !== "./package.json" && !t.startsWith("./dist/"))
    if (bad.length > 0 || pkg.exports["./internal/*"] !== null || !targets.includes("./dist/index.js")) {
      console.error(`exports of ${pkg.name}: ${JSON.stringify(pkg.exports)}`)
      process.exit(1)
    }
    for (const [name, range] of Object.entries(pkg.peerDependencies ?? {})) {
      if (!range.startsWith("^")) { console.error(`${pkg.name}: peer ${name} ${range} is no caret range`); process.exit(1) }
    }
    if (pkg.dependencies?.effect !== undefined) { console.error(`${pkg.name}: effect must be a peer`); process.exit(1) }
  ' || fail "$(basename "$tarball"): exports or peer dependencies"
done

step "publint (strict) and attw (esm-only, every public module)"
for tarball in "${tarballs[@]}"; do
  name="$(basename "$tarball")"
  (cd "$root" && pnpm exec publint run --strict "$tarball" >"$work/publint.log" 2>&1) || {
    cat "$work/publint.log"
    fail "publint: $name"
  }
  grep -q "All good" "$work/publint.log" || { cat "$work/publint.log"; fail "publint reported on $name"; }
  entrypoints=(.)
  for module in $(tar -tzf "$tarball" | sed -n 's#^package/dist/\([A-Za-z]*\)\.js$#\1#p'); do
    [[ $module == index ]] || entrypoints+=("./$module")
  done
  (cd "$root" && pnpm exec attw --profile esm-only --format table-flipped --entrypoints "${entrypoints[@]}" -- "$tarball" \
    >"$work/attw.log" 2>&1) || { cat "$work/attw.log"; fail "attw: $name"; }
  printf '%s: publint all good; attw clean for %d entry points\n' "$name" "${#entrypoints[@]}"
done

step "install the tarballs with effect (npm's latest: $effect_version) into an app outside the workspace ($work/app)"
app="$work/app"
mkdir -p "$app"
cp -r "$here/app/." "$app/"
printf '{ "name": "consumer-app", "private": true, "type": "module" }\n' >"$app/package.json"
(cd "$app" && npm_quiet install "${install_tarballs[@]}" effect "${app_deps[@]}")

one_effect() {
  local copies
  copies="$(find "$app/node_modules" -path '*/node_modules/effect/package.json' | wc -l)"
  [[ $copies == 1 ]] || fail "$copies copies of effect are installed, expected exactly one"
  printf 'exactly one effect: %s\n' "$(node -p "require('$app/node_modules/effect/package.json').version")"
}
one_effect
# Nothing from the workspace but the tarballs.
[[ -z "$(find "$app/node_modules" -maxdepth 2 -type l -not -path '*/.bin/*')" ]] || fail "a package is linked, not installed"

step "TypeScript (strict, exactOptionalPropertyTypes, skipLibCheck false): app.ts and the README's blocks"
node "$root/scripts/readme-blocks.mjs" "$app/readme" >/dev/null
typecheck() {
  local config
  for config in tsconfig.nodenext.json tsconfig.bundler.json; do
    (cd "$app" && node_modules/.bin/tsc -p "$config") || fail "tsc -p $config (effect $1)"
    printf 'tsc -p %s: ok (%d README blocks)\n' "$config" "$(ls "$app/readme"/*.ts | wc -l)"
  done
}
typecheck "$effect_version"

step "esbuild bundle of the ESM app"
# The banner gives the CommonJS dependencies in the bundle (the OpenTelemetry
# SDK) the `require` an ES module lacks, as any ESM bundle of them needs.
(cd "$app" && node_modules/.bin/esbuild esm.mjs --bundle --platform=node --format=esm --log-level=warning \
  "--banner:js=import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" \
  --outfile=bundle.mjs) || fail "esbuild"
printf 'bundle.mjs: %s bytes\n' "$(stat -c %s "$app/bundle.mjs")"

step "Node ${node_lines[*]} (npm's node package)"
nodes=()
for line in "${node_lines[@]}"; do
  (cd "$work" && mkdir -p "node$line" && cd "node$line" && npm_quiet install "node@$line" >/dev/null) ||
    fail "npm install node@$line"
  nodes+=("$work/node$line/node_modules/.bin/node")
done
run_apps() {
  local bin
  for bin in "${nodes[@]}"; do
    for entry in esm.mjs cjs.cjs bundle.mjs; do
      [[ $entry == bundle.mjs && ! -e "$app/bundle.mjs" ]] && continue
      (cd "$app" && "$bin" "$entry" | sed "s/^[a-z]*: /$entry: /") || fail "$entry on Node $("$bin" --version)"
    done
  done
}
run_apps

if [[ $effect_floor != "$effect_version" ]]; then
  step "the lowest supported effect ($effect_floor)"
  (cd "$app" && npm_quiet install "effect@$effect_floor")
  one_effect
  typecheck "$effect_floor"
  rm -f "$app/bundle.mjs"
  nodes=("${nodes[0]}")
  run_apps
fi

step "what \`npm install @effect-smtp/node effect\` brings into an empty application"
empty="$work/empty"
mkdir -p "$empty"
printf '{ "name": "empty-app", "private": true }\n' >"$empty/package.json"
node_tarball="$(printf '%s\n' "${tarballs[@]}" | grep /effect-smtp-node-)"
client_tarball="$(printf '%s\n' "${tarballs[@]}" | grep /effect-smtp-client-)"
# The client tarball stands in for the registry's copy of the node package's peer.
(cd "$empty" && npm_quiet install "$node_tarball" "$client_tarball" effect)
installed="$(cd "$empty" && npm ls --all --parseable 2>/dev/null | tail -n +2 | sed 's#.*/node_modules/##' | sort -u)"
printf 'packages installed: %s (%s)\n' "$(wc -l <<<"$installed")" "$(tr '\n' ' ' <<<"$installed")"
printf 'node_modules size: %s KiB\n' "$(du -sk "$empty/node_modules" | cut -f1)"

step "OK ($((SECONDS - started)) s)"
