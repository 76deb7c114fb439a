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
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/service.sh"

readonly OPEN_PORT="${EFFECT_SMTP_TINYPROXY_PORT:-2572}"
readonly AUTH_PORT="${EFFECT_SMTP_TINYPROXY_AUTH_PORT:-$((OPEN_PORT + 1))}"
readonly BASE="${EFFECT_SMTP_TINYPROXY_DIR:-/var/lib/effect-smtp-tinyproxy}"
readonly WAIT="${EFFECT_SMTP_TINYPROXY_WAIT:-15}"
readonly PROXY_USER=proxytest
# tinyproxy's config grammar allows only [-A-Za-z0-9._] in BasicAuth values
# (Dante's password exercises the URL's percent-decoding instead).
readonly PROXY_PASSWORD='Http-pr0xy.pass'
readonly DENIED_HOST=127.0.0.2
readonly PORT_KNOBS="EFFECT_SMTP_TINYPROXY_PORT / EFFECT_SMTP_TINYPROXY_AUTH_PORT"

print_env() {
  printf 'EFFECT_SMTP_HTTP_PROXY=%s:%s\n' "$HOST" "$OPEN_PORT"
  printf 'EFFECT_SMTP_HTTP_PROXY_AUTH=%s:%s\n' "$HOST" "$AUTH_PORT"
  printf 'EFFECT_SMTP_HTTP_PROXY_USER=%s\n' "$PROXY_USER"
  printf 'EFFECT_SMTP_HTTP_PROXY_PASSWORD=%s\n' "$PROXY_PASSWORD"
  printf 'EFFECT_SMTP_PROXY_DENIED_HOST=%s\n' "$DENIED_HOST"
}

preflight() {
  require_root "tinyproxy binds as root and then runs as nobody"
  require_command tinyproxy "tinyproxy is not installed. On Debian/Ubuntu: apt-get install -y --no-install-recommends tinyproxy (with service start-up denied; .ci/run does this)"
  check_instance_ports
  check_seconds EFFECT_SMTP_TINYPROXY_WAIT "$WAIT"
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

pid_file_of() { printf '%s/%s/tinyproxy.pid' "$BASE" "$1"; }
log_file_of() { printf '%s/%s/tinyproxy.log' "$BASE" "$1"; }
readonly LOG_FILES=("$(log_file_of open)" "$(log_file_of auth)")
launch() {
  write_config "$1"
  # Without -d, tinyproxy daemonizes itself.
  tinyproxy -c "$BASE/$1/tinyproxy.conf"
}

cmd_start() {
  preflight
  start_instances
  log "ready: 127.0.0.1:$OPEN_PORT (no auth) and 127.0.0.1:$AUTH_PORT (Basic, user $PROXY_USER); CONNECT to $DENIED_HOST is filtered; logs in $BASE"
  print_env
}

running() { instances_running; }
ready() { instances_ready; }

cmd_stop() {
  preflight
  stop_instances
}

service_main "$@"
