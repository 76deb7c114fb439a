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
# shellcheck source=lib/service.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib/service.bash"

readonly OPEN_PORT="${EFFECT_SMTP_DANTE_PORT:-2570}"
readonly AUTH_PORT="${EFFECT_SMTP_DANTE_AUTH_PORT:-$((OPEN_PORT + 1))}"
readonly BASE="${EFFECT_SMTP_DANTE_DIR:-/var/lib/effect-smtp-dante}"
readonly WAIT="${EFFECT_SMTP_DANTE_WAIT:-15}"
readonly PROXY_USER=proxytest
# Characters a proxy URL must percent-encode, so the tests exercise decoding.
readonly PROXY_PASSWORD='Pr0xy:p@ss/w0rd'
readonly DENIED_HOST=127.0.0.2
readonly INSTANCES=(open auth)

port_of() { if [[ $1 == open ]]; then printf '%s' "$OPEN_PORT"; else printf '%s' "$AUTH_PORT"; fi; }

print_env() {
  printf 'EFFECT_SMTP_SOCKS5=127.0.0.1:%s\n' "$OPEN_PORT"
  printf 'EFFECT_SMTP_SOCKS5_AUTH=127.0.0.1:%s\n' "$AUTH_PORT"
  printf 'EFFECT_SMTP_SOCKS5_USER=%s\n' "$PROXY_USER"
  printf 'EFFECT_SMTP_SOCKS5_PASSWORD=%s\n' "$PROXY_PASSWORD"
  printf 'EFFECT_SMTP_PROXY_DENIED_HOST=%s\n' "$DENIED_HOST"
}

preflight() {
  require_root "it starts Dante, which checks passwords against /etc/shadow, and creates the user $PROXY_USER" "$@"
  command -v danted >/dev/null 2>&1 ||
    die "Dante is not installed. On Debian/Ubuntu: apt-get install -y --no-install-recommends dante-server (with service start-up denied; .ci/run does this)"
  check_port EFFECT_SMTP_DANTE_PORT "$OPEN_PORT"
  check_port EFFECT_SMTP_DANTE_AUTH_PORT "$AUTH_PORT"
  [[ $OPEN_PORT != "$AUTH_PORT" ]] || die "EFFECT_SMTP_DANTE_PORT and EFFECT_SMTP_DANTE_AUTH_PORT must differ"
  [[ $WAIT =~ ^[0-9]+$ ]] || die "EFFECT_SMTP_DANTE_WAIT must be a number of seconds, got '$WAIT'"
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

running() {
  local name
  for name in "${INSTANCES[@]}"; do
    live_pid "$BASE/$name.pid" >/dev/null && listening_on "$(port_of "$name")" || return 1
  done
}

start_instance() {
  local name=$1 port
  port="$(port_of "$name")"
  if live_pid "$BASE/$name.pid" >/dev/null; then
    log "$name instance (port $port) is running"
    return
  fi
  listening_on "$port" &&
    die "127.0.0.1:$port is already in use by another program; choose other ports with EFFECT_SMTP_DANTE_PORT / EFFECT_SMTP_DANTE_AUTH_PORT"
  write_config "$name"
  log "starting the $name instance on 127.0.0.1:$port"
  danted -D -f "$BASE/$name.conf" -p "$BASE/$name.pid" >&2 || {
    show_log "$BASE/$name.log"
    die "danted ($name) failed to start"
  }
  wait_for_port "$port" "$WAIT" || {
    show_log "$BASE/$name.log"
    die "danted ($name) does not accept connections on 127.0.0.1:$port within ${WAIT}s"
  }
}

cmd_start() {
  preflight "$@"
  ensure_user
  local name
  for name in "${INSTANCES[@]}"; do start_instance "$name"; done
  log "ready: 127.0.0.1:$OPEN_PORT (no auth) and 127.0.0.1:$AUTH_PORT (user $PROXY_USER); $DENIED_HOST is refused by rule; logs in $BASE"
  print_env
}

cmd_stop() {
  preflight "$@"
  local name
  for name in "${INSTANCES[@]}"; do
    if live_pid "$BASE/$name.pid" >/dev/null; then
      log "stopping the $name instance"
      stop_pid "$BASE/$name.pid" "$WAIT"
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
    [[ -r $BASE/$name.log ]] || continue
    printf '== %s\n' "$BASE/$name.log"
    tail -n 50 "$BASE/$name.log"
  done
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status ;;
  log) cmd_log ;;
  *) usage ;;
esac
