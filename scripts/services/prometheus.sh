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
# exports), and loads the kit's alerting rules (observability/*/alerts.yml), so
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

readonly HOST=127.0.0.1
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
readonly PID="$BASE/pid"

log() { printf 'prometheus-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ready() { curl -fsS --max-time 2 "$URL/-/ready" >/dev/null 2>&1; }
listening() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }
running_pid() { [[ -f $PID ]] && kill -0 "$(cat "$PID")" 2>/dev/null && cat "$PID"; }

print_env() { printf 'EFFECT_SMTP_PROMETHEUS=%s\n' "$URL"; }

preflight() {
  command -v curl >/dev/null || die "curl is needed to wait for the server (apt-get install curl)"
  command -v prometheus >/dev/null ||
    die "Debian's prometheus is not installed (apt-get install --no-install-recommends prometheus; .ci/apt-packages lists it)"
  if ! [[ $PORT =~ ^[1-9][0-9]*$ ]] || ((PORT > 65535)); then
    die "EFFECT_SMTP_PROMETHEUS_PORT must be a TCP port number, got '$PORT'"
  fi
  [[ $WAIT =~ ^[0-9]+$ ]] || die "EFFECT_SMTP_PROMETHEUS_WAIT must be a number of seconds, got '$WAIT'"
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
YAML
  mv -f "$CONFIG.new" "$CONFIG"
}

cmd_start() {
  preflight
  write_config
  local pid
  if pid="$(running_pid)"; then
    log "running (pid $pid); reloading its configuration"
    kill -HUP "$pid"
  else
    if listening; then
      die "$HOST:$PORT is in use by another program; choose another port with EFFECT_SMTP_PROMETHEUS_PORT"
    fi
    log "starting $(prometheus --version 2>&1 | head -n 1) on $URL"
    nohup prometheus "--config.file=$CONFIG" "--storage.tsdb.path=$BASE/data" "--storage.tsdb.retention.time=2d" \
      "--web.listen-address=$HOST:$PORT" --web.enable-admin-api --log.level=warn >>"$LOG" 2>&1 </dev/null &
    printf '%s\n' "$!" >"$PID"
  fi
  local deadline=$((SECONDS + WAIT))
  until ready; do
    if ! running_pid >/dev/null || ((SECONDS >= deadline)); then
      tail -n 20 "$LOG" >&2 || true
      die "not ready on $URL within ${WAIT}s"
    fi
    sleep 0.3
  done
  log "ready: $URL (scrapes 127.0.0.1:2591-2594 and 2596-2597, loads the kit's rules); state in $BASE"
  print_env
}

cmd_stop() {
  local pid
  if pid="$(running_pid)"; then
    log "stopping pid $pid"
    kill "$pid"
    local deadline=$((SECONDS + WAIT))
    while kill -0 "$pid" 2>/dev/null; do
      ((SECONDS < deadline)) || die "pid $pid still running ${WAIT}s after stop"
      sleep 0.3
    done
    rm -f "$PID"
  else
    log "not running (state in $BASE)"
  fi
}

cmd_status() {
  if ready; then
    log "running: $URL (state in $BASE)"
    print_env
  else
    log "not running on $URL (state in $BASE)"
    exit 3
  fi
}

cmd_log() {
  [[ -r $LOG ]] || die "no readable log at $LOG"
  tail -n 50 "$LOG"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  log) cmd_log ;;
  *)
    printf 'usage: %s start|stop|status|log\n' "$0" >&2
    exit 2
    ;;
esac
