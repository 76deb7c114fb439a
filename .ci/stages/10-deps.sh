#!/usr/bin/env bash
# Every package declares exactly the dependencies its sources and tests
# import: knip (`pnpm deps`) fails on an unused, missing or unlisted one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
pnpm deps
