#!/usr/bin/env bash
# The observability kit (observability/<profile>/): the generated dashboards and
# rules match their description, promtool accepts the rules, and every alert's
# unit tests pass. The kit against a live Prometheus scraping a sending
# application is packages/opentelemetry/test/ObservabilityKit.test.ts (run by
# `pnpm test` with scripts/services/prometheus.sh's environment).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

command -v promtool >/dev/null || {
  echo "30-telemetry-kit: promtool is missing: install Debian's prometheus package (listed in .ci/apt-packages)" >&2
  exit 1
}
promtool --version 2>&1 | head -n 1

echo "-- the kit is what scripts/observability-kit.mjs generates"
node scripts/observability-kit.mjs --check

for profile in observability/*/; do
  echo "-- ${profile}"
  node -e 'JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))' "${profile}dashboard.json"
  promtool check rules "${profile}alerts.yml"
  promtool test rules "${profile}alerts.test.yml"
  # Every alert has unit tests.
  for alert in $(sed -n 's/^ *- alert: *//p' "${profile}alerts.yml"); do
    grep -q "alertname: ${alert}\$" "${profile}alerts.test.yml" || {
      echo "30-telemetry-kit: ${profile}alerts.test.yml has no test of ${alert}" >&2
      exit 1
    }
  done
done
