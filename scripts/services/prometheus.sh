#!/usr/bin/env bash
# A private Prometheus on loopback for the observability kit's live test
# (packages/opentelemetry/test/ObservabilityKit.test.ts).
#
#   scripts/services/prometheus.sh start    configure, start (or reload), wait until ready
#   scripts/services/prometheus.sh stop     stop the server this script started (its data stays)
#   scripts/services/prometheus.sh status   exit 0 when it is ready, 3 otherwise
#   scripts/services/prometheus.sh log      the last lines of its log
#
# Debian's own `prometheus` (the package .ci/apt-packages installs) on
# 127.0.0.1:2590, with its own config and data directory, never as a system
# service. It scrapes, every second, the Prometheus exporters the kit test
# serves while it runs (jobs effect-smtp-documented and effect-smtp-shipped on
# 127.0.0.1:2591-2594 with the JavaScript exporter's names; jobs
# effect-smtp-documented-suffixed and effect-smtp-shipped-suffixed on
# 127.0.0.1:2596-2597 with the unit-suffixed names a MailKit application
# exports; job effect-smtp-documented-effect on 127.0.0.1:2595, the Effect-Metric
# backend served by Effect's own Prometheus exporter, no OpenTelemetry SDK:
# packages/opentelemetry/test/ObservabilityKit.test.ts), and loads the kit's alerting rules (observability/*/alerts.yml), so
# the test reads every rule from the API. The admin API is on: the test
# deletes its old series first.
#
# `start` and `status` print the test environment on stdout, one KEY=VALUE per
# line; everything else goes to stderr:
#   EFFECT_SMTP_PROMETHEUS=http://127.0.0.1:2590
#
# Knobs: EFFECT_SMTP_PROMETHEUS_PORT (2590), EFFECT_SMTP_PROMETHEUS_DIR
# (/var/lib/effect-smtp-prometheus as root, else
# ~/.local/state/effect-smtp-prometheus), EFFECT_SMTP_PROMETHEUS_WAIT (30 seconds).
set -euo pipefail

SERVICE=prometheus-test
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/service.sh"

readonly PORT="${EFFECT_SMTP_PROMETHEUS_PORT:-2590}"
if [[ $(id -u) == 0 ]]; then
  default_base=/var/lib/effect-smtp-prometheus
else
  default_base="${XDG_STATE_HOME:-$HOME/.local/state}/effect-smtp-prometheus"
fi
readonly BASE="${EFFECT_SMTP_PROMETHEUS_DIR:-$default_base}"
readonly WAIT="${EFFECT_SMTP_PROMETHEUS_WAIT:-30}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO
readonly URL="http://$HOST:$PORT"
readonly CONFIG="$BASE/prometheus.yml"
readonly LOG="$BASE/log"
readonly LOG_FILES=("$LOG")
readonly PID="$BASE/pid"

running() { live_pid "$PID" >/dev/null; }
ready() { curl -fsS --max-time 2 "$URL/-/ready" >/dev/null 2>&1; }

print_env() { printf 'EFFECT_SMTP_PROMETHEUS=%s\n' "$URL"; }

preflight() {
  require_command curl "curl is needed to wait for the server (apt-get install curl)"
  require_command prometheus \
    "Debian's prometheus is not installed (apt-get install --no-install-recommends prometheus; .ci/apt-packages lists it)"
  check_port EFFECT_SMTP_PROMETHEUS_PORT "$PORT"
  check_seconds EFFECT_SMTP_PROMETHEUS_WAIT "$WAIT"
}

write_config() {
  install -d "$BASE" "$BASE/data"
  cat >"$CONFIG.new" <<YAML
# Written by scripts/services/prometheus.sh; rewritten on every start.
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $REPO/observability/documented/alerts.yml
  - $REPO/observability/shipped/alerts.yml
scrape_configs:
  - job_name: effect-smtp-documented
    static_configs:
      - targets: ["127.0.0.1:2591", "127.0.0.1:2592"]
  - job_name: effect-smtp-shipped
    static_configs:
      - targets: ["127.0.0.1:2593", "127.0.0.1:2594"]
  - job_name: effect-smtp-documented-suffixed
    static_configs:
      - targets: ["127.0.0.1:2596"]
  - job_name: effect-smtp-shipped-suffixed
    static_configs:
      - targets: ["127.0.0.1:2597"]
  - job_name: effect-smtp-documented-effect
    static_configs:
      - targets: ["127.0.0.1:2595"]
YAML
  mv -f "$CONFIG.new" "$CONFIG"
}

cmd_start() {
  preflight
  write_config
  local pid
  if pid="$(live_pid "$PID")"; then
    log "running (pid $pid); reloading its configuration"
    kill -HUP "$pid"
  else
    ensure_ports_free EFFECT_SMTP_PROMETHEUS_PORT "$PORT"
    log "starting $(prometheus --version 2>&1 | head -n 1) on $URL"
    spawn "$PID" "$LOG" prometheus "--config.file=$CONFIG" "--storage.tsdb.path=$BASE/data" \
      "--storage.tsdb.retention.time=2d" "--web.listen-address=$HOST:$PORT" --web.enable-admin-api --log.level=warn
  fi
  await_ready "not ready on $URL" "$PID"
  log "ready: $URL (scrapes 127.0.0.1:2591-2597, loads the kit's rules); state in $BASE"
  print_env
}

cmd_stop() { stop_daemon "$PID" "$PORT"; }

service_main "$@"
