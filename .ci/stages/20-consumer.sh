#!/usr/bin/env bash
# The published packages as a user meets them (scripts/consumer/run.sh):
# packed, installed outside the workspace, run on Node 20, 22 and 24.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash scripts/consumer/run.sh
