#!/usr/bin/env bash
# Two private tinyproxy HTTP proxies (Debian `tinyproxy`) for the HTTP CONNECT
# tests (packages/node/test/Proxy.test.ts):
#
#   scripts/services/tinyproxy.sh start    configure (idempotent), start what is not running, wait for both ports
#   scripts/services/tinyproxy.sh stop     stop both instances
#   scripts/services/tinyproxy.sh status   exit 0 when both accept connections, 3 otherwise
#   scripts/services/tinyproxy.sh log      the last lines of both logs
#
# - OPEN_PORT (2572): no authentication.
# - AUTH_PORT (2573): HTTP Basic authentication (`BasicAuth`), answering 407
#   to a missing or wrong Proxy-Authorization.
#
# Both listen on 127.0.0.1 only, allow clients from 127.0.0.1, and refuse
# (403, "Filtered") every CONNECT to 127.0.0.2 through a filter rule: the
# tests' "proxy refuses the target" case. Neither touches the system tinyproxy
# (/etc/tinyproxy): each has its own config, filter, pid and log in BASE and
# runs as `nobody` after binding its port.
#
# `start` and `status` print the test environment on stdout:
#   EFFECT_SMTP_HTTP_PROXY=127.0.0.1:2572
#   EFFECT_SMTP_HTTP_PROXY_AUTH=127.0.0.1:2573
#   EFFECT_SMTP_HTTP_PROXY_USER=proxytest
#   EFFECT_SMTP_HTTP_PROXY_PASSWORD=...
#   EFFECT_SMTP_PROXY_DENIED_HOST=127.0.0.2
#
# Knobs: EFFECT_SMTP_TINYPROXY_PORT (2572), EFFECT_SMTP_TINYPROXY_AUTH_PORT
# (PORT + 1), EFFECT_SMTP_TINYPROXY_DIR (/var/lib/effect-smtp-tinyproxy),
# EFFECT_SMTP_TINYPROXY_WAIT (15 s).
set -euo pipefail

SERVICE=tinyproxy-test
# shellcheck source=lib/service.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib/service.bash"

readonly OPEN_PORT="${EFFECT_SMTP_TINYPROXY_PORT:-2572}"
readonly AUTH_PORT="${EFFECT_SMTP_TINYPROXY_AUTH_PORT:-$((OPEN_PORT + 1))}"
readonly BASE="${EFFECT_SMTP_TINYPROXY_DIR:-/var/lib/effect-smtp-tinyproxy}"
readonly WAIT="${EFFECT_SMTP_TINYPROXY_WAIT:-15}"
readonly PROXY_USER=proxytest
# tinyproxy's config grammar allows only [-A-Za-z0-9._] in BasicAuth values
# (Dante's password exercises the URL's percent-decoding instead).
readonly PROXY_PASSWORD='Http-pr0xy.pass'
readonly DENIED_HOST=127.0.0.2
readonly INSTANCES=(open auth)

port_of() { if [[ $1 == open ]]; then printf '%s' "$OPEN_PORT"; else printf '%s' "$AUTH_PORT"; fi; }

print_env() {
  printf 'EFFECT_SMTP_HTTP_PROXY=127.0.0.1:%s\n' "$OPEN_PORT"
  printf 'EFFECT_SMTP_HTTP_PROXY_AUTH=127.0.0.1:%s\n' "$AUTH_PORT"
  printf 'EFFECT_SMTP_HTTP_PROXY_USER=%s\n' "$PROXY_USER"
  printf 'EFFECT_SMTP_HTTP_PROXY_PASSWORD=%s\n' "$PROXY_PASSWORD"
  printf 'EFFECT_SMTP_PROXY_DENIED_HOST=%s\n' "$DENIED_HOST"
}

preflight() {
  require_root "tinyproxy binds as root and then runs as nobody" "$@"
  command -v tinyproxy >/dev/null 2>&1 ||
    die "tinyproxy is not installed. On Debian/Ubuntu: apt-get install -y --no-install-recommends tinyproxy (with service start-up denied; .ci/run does this)"
  check_port EFFECT_SMTP_TINYPROXY_PORT "$OPEN_PORT"
  check_port EFFECT_SMTP_TINYPROXY_AUTH_PORT "$AUTH_PORT"
  [[ $OPEN_PORT != "$AUTH_PORT" ]] || die "EFFECT_SMTP_TINYPROXY_PORT and EFFECT_SMTP_TINYPROXY_AUTH_PORT must differ"
  [[ $WAIT =~ ^[0-9]+$ ]] || die "EFFECT_SMTP_TINYPROXY_WAIT must be a number of seconds, got '$WAIT'"
}

write_config() {
  local name=$1 dir="$BASE/$1"
  # The log and pid are written after the switch to nobody.
  install -d -m 0755 "$BASE"
  install -d -o nobody -g nogroup -m 0755 "$dir"
  # For CONNECT the filter sees the host name (or IP) the client asked for.
  printf '^%s$\n' "${DENIED_HOST//./\\.}" >"$dir/filter"
  cat >"$dir/tinyproxy.conf.new" <<CONF
# Written by scripts/services/tinyproxy.sh; rewritten on every start.
User nobody
Group nogroup
Port $(port_of "$name")
Listen 127.0.0.1
Timeout 60
LogFile "$dir/tinyproxy.log"
LogLevel Info
PidFile "$dir/tinyproxy.pid"
MaxClients 64
Allow 127.0.0.1
DisableViaHeader Yes
FilterType ere
Filter "$dir/filter"
$([[ $name == auth ]] && printf 'BasicAuth %s %s\n' "$PROXY_USER" "$PROXY_PASSWORD")
CONF
  mv -f "$dir/tinyproxy.conf.new" "$dir/tinyproxy.conf"
}

running() {
  local name
  for name in "${INSTANCES[@]}"; do
    live_pid "$BASE/$name/tinyproxy.pid" >/dev/null && listening_on "$(port_of "$name")" || return 1
  done
}

start_instance() {
  local name=$1 port
  port="$(port_of "$name")"
  if live_pid "$BASE/$name/tinyproxy.pid" >/dev/null; then
    log "$name instance (port $port) is running"
    return
  fi
  listening_on "$port" &&
    die "127.0.0.1:$port is already in use by another program; choose other ports with EFFECT_SMTP_TINYPROXY_PORT / EFFECT_SMTP_TINYPROXY_AUTH_PORT"
  write_config "$name"
  log "starting the $name instance on 127.0.0.1:$port"
  # Without -d, tinyproxy daemonizes itself.
  tinyproxy -c "$BASE/$name/tinyproxy.conf" >&2 || {
    show_log "$BASE/$name/tinyproxy.log"
    die "tinyproxy ($name) failed to start"
  }
  wait_for_port "$port" "$WAIT" || {
    show_log "$BASE/$name/tinyproxy.log"
    die "tinyproxy ($name) does not accept connections on 127.0.0.1:$port within ${WAIT}s"
  }
}

cmd_start() {
  preflight "$@"
  local name
  for name in "${INSTANCES[@]}"; do start_instance "$name"; done
  log "ready: 127.0.0.1:$OPEN_PORT (no auth) and 127.0.0.1:$AUTH_PORT (Basic, user $PROXY_USER); CONNECT to $DENIED_HOST is filtered; logs in $BASE"
  print_env
}

cmd_stop() {
  preflight "$@"
  local name
  for name in "${INSTANCES[@]}"; do
    if live_pid "$BASE/$name/tinyproxy.pid" >/dev/null; then
      log "stopping the $name instance"
      stop_pid "$BASE/$name/tinyproxy.pid" "$WAIT"
      wait_for_port_closed "$(port_of "$name")" "$WAIT" || die "127.0.0.1:$(port_of "$name") still answers after stop"
    else
      log "$name instance not running"
    fi
  done
}

cmd_status() {
  if running; then
    log "running: 127.0.0.1:$OPEN_PORT and 127.0.0.1:$AUTH_PORT (dir $BASE)"
    print_env
  else
    log "not running (dir $BASE)"
    exit 3
  fi
}

cmd_log() {
  local name
  for name in "${INSTANCES[@]}"; do
    [[ -r $BASE/$name/tinyproxy.log ]] || continue
    printf '== %s\n' "$BASE/$name/tinyproxy.log"
    tail -n 50 "$BASE/$name/tinyproxy.log"
  done
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status ;;
  log) cmd_log ;;
  *) usage ;;
esac
