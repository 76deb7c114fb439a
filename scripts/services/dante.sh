#!/usr/bin/env bash
# Two private Dante SOCKS5 servers (Debian `dante-server`) for the proxy tests
# (packages/node/test/Proxy.test.ts):
#
#   scripts/services/dante.sh start    configure (idempotent), start what is not running, wait for both ports
#   scripts/services/dante.sh stop     stop both instances
#   scripts/services/dante.sh status   exit 0 when both accept connections, 3 otherwise
#   scripts/services/dante.sh log      the last lines of both logs
#
# - OPEN_PORT (2570): no authentication (SOCKS method 0x00).
# - AUTH_PORT (2571): username/password only (RFC 1929), checked by Dante
#   against the system password database: the system user `proxytest` is
#   created when missing and given the password below (its shell is nologin,
#   so the password opens nothing else).
#
# Both listen on 127.0.0.1 only, accept clients from 127.0.0.0/8, connect out
# from 127.0.0.1 to loopback targets only, and refuse every connection to
# 127.0.0.2 by rule (SOCKS reply 0x02, "not allowed by ruleset"): the tests'
# "proxy refuses the target" case. Neither touches the system Dante
# (/etc/danted.conf): each has its own config, pid and log in BASE.
#
# `start` and `status` print the test environment on stdout:
#   EFFECT_SMTP_SOCKS5=127.0.0.1:2570
#   EFFECT_SMTP_SOCKS5_AUTH=127.0.0.1:2571
#   EFFECT_SMTP_SOCKS5_USER=proxytest
#   EFFECT_SMTP_SOCKS5_PASSWORD=...
#   EFFECT_SMTP_PROXY_DENIED_HOST=127.0.0.2
#
# Knobs: EFFECT_SMTP_DANTE_PORT (2570), EFFECT_SMTP_DANTE_AUTH_PORT (PORT + 1),
# EFFECT_SMTP_DANTE_DIR (/var/lib/effect-smtp-dante), EFFECT_SMTP_DANTE_WAIT (15 s).
set -euo pipefail

SERVICE=dante-test
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/service.sh"

readonly OPEN_PORT="${EFFECT_SMTP_DANTE_PORT:-2570}"
readonly AUTH_PORT="${EFFECT_SMTP_DANTE_AUTH_PORT:-$((OPEN_PORT + 1))}"
readonly BASE="${EFFECT_SMTP_DANTE_DIR:-/var/lib/effect-smtp-dante}"
readonly WAIT="${EFFECT_SMTP_DANTE_WAIT:-15}"
readonly PROXY_USER=proxytest
# Characters a proxy URL must percent-encode, so the tests exercise decoding.
readonly PROXY_PASSWORD='Pr0xy:p@ss/w0rd'
readonly DENIED_HOST=127.0.0.2
readonly PORT_KNOBS="EFFECT_SMTP_DANTE_PORT / EFFECT_SMTP_DANTE_AUTH_PORT"

print_env() {
  printf 'EFFECT_SMTP_SOCKS5=%s:%s\n' "$HOST" "$OPEN_PORT"
  printf 'EFFECT_SMTP_SOCKS5_AUTH=%s:%s\n' "$HOST" "$AUTH_PORT"
  printf 'EFFECT_SMTP_SOCKS5_USER=%s\n' "$PROXY_USER"
  printf 'EFFECT_SMTP_SOCKS5_PASSWORD=%s\n' "$PROXY_PASSWORD"
  printf 'EFFECT_SMTP_PROXY_DENIED_HOST=%s\n' "$DENIED_HOST"
}

preflight() {
  require_root "it starts Dante, which checks passwords against /etc/shadow, and creates the user $PROXY_USER"
  require_command danted "Dante is not installed. On Debian/Ubuntu: apt-get install -y --no-install-recommends dante-server (with service start-up denied; .ci/run does this)"
  check_instance_ports
  check_seconds EFFECT_SMTP_DANTE_WAIT "$WAIT"
}

ensure_user() {
  ensure_system_user "$PROXY_USER"
  # Set on every start, so the documented password is the one in force.
  printf '%s:%s\n' "$PROXY_USER" "$PROXY_PASSWORD" | chpasswd
}

write_config() {
  local name=$1 method=none
  [[ $name == auth ]] && method=username
  install -d -m 0755 "$BASE"
  cat >"$BASE/$name.conf.new" <<CONF
# Written by scripts/services/dante.sh; rewritten on every start.
logoutput: $BASE/$name.log
internal: 127.0.0.1 port = $(port_of "$name")
external: 127.0.0.1
clientmethod: none
socksmethod: $method
# The password check reads /etc/shadow, which needs root.
user.privileged: root
user.unprivileged: nobody
timeout.negotiate: 30

client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  log: error
}
# The tests' "proxy refuses the target" case.
socks block {
  from: 0.0.0.0/0 to: $DENIED_HOST/32
  log: connect error
}
socks pass {
  from: 127.0.0.0/8 to: 127.0.0.0/8
  command: connect
  socksmethod: $method
  log: connect disconnect error
}
socks block {
  from: 0.0.0.0/0 to: 0.0.0.0/0
  log: connect error
}
CONF
  mv -f "$BASE/$name.conf.new" "$BASE/$name.conf"
}

pid_file_of() { printf '%s/%s.pid' "$BASE" "$1"; }
log_file_of() { printf '%s/%s.log' "$BASE" "$1"; }
readonly LOG_FILES=("$(log_file_of open)" "$(log_file_of auth)")
launch() {
  write_config "$1"
  danted -D -f "$BASE/$1.conf" -p "$(pid_file_of "$1")"
}

cmd_start() {
  preflight
  ensure_user
  start_instances
  log "ready: 127.0.0.1:$OPEN_PORT (no auth) and 127.0.0.1:$AUTH_PORT (user $PROXY_USER); $DENIED_HOST is refused by rule; logs in $BASE"
  print_env
}

running() { instances_running; }
ready() { instances_ready; }

cmd_stop() {
  preflight
  stop_instances
}

service_main "$@"
