#!/usr/bin/env bash
# A private aiosmtpd server for the interop tests (packages/node/test/interop/aiosmtpd.test.ts).
#
#   scripts/services/aiosmtpd.sh start    start scripts/services/aiosmtpd/server.py, wait for the greetings
#   scripts/services/aiosmtpd.sh stop     stop it (the Maildir stays)
#   scripts/services/aiosmtpd.sh status   exit 0 when it is running and greets, 3 otherwise
#   scripts/services/aiosmtpd.sh log      the last lines of its log
#
# aiosmtpd is a library (Debian's python3-aiosmtpd, listed in
# .ci/apt-packages); server.py beside this script is the server, run with
# Debian's /usr/bin/python3 (the python3 the package installs into, whatever
# else is first on PATH). It stores every message it accepts in
# $BASE/maildir/new, as received (CRLF), under a few X-Aiosmtpd-* trace
# headers. Listeners on 127.0.0.1 (see server.py):
#   PORT      (2545) STARTTLS, AUTH PLAIN/LOGIN after STARTTLS, SMTPUTF8
#   PORT + 1  (2546) plaintext; refuses every second recipient of a transaction
#   PORT + 2  (2547) implicit TLS
#   PORT + 3  (2548) plaintext, offers PIPELINING, refuses MAIL/RCPT/DATA
#                    pipelined behind a final dot with 503 (and logs each
#                    refusal with the client's port: the log is printed too)
# The AUTH user is `smtptest`, password `interop-secret` (a test-only
# credential, known to the tests).
#
# `start` and `status` print the test environment on stdout:
#   EFFECT_SMTP_AIOSMTPD=127.0.0.1:2545
#   EFFECT_SMTP_AIOSMTPD_REFUSING=127.0.0.1:2546
#   EFFECT_SMTP_AIOSMTPD_TLS=127.0.0.1:2547
#   EFFECT_SMTP_AIOSMTPD_AFTER_DATA=127.0.0.1:2548
#   EFFECT_SMTP_AIOSMTPD_MAILDIR=/var/lib/effect-smtp-aiosmtpd/maildir
#   EFFECT_SMTP_AIOSMTPD_CA=/var/lib/effect-smtp-aiosmtpd/tls/ca.pem
#   EFFECT_SMTP_AIOSMTPD_LOG=/var/lib/effect-smtp-aiosmtpd/server.log
#
# Knobs: EFFECT_SMTP_AIOSMTPD_PORT (2545), EFFECT_SMTP_AIOSMTPD_DIR
# (/var/lib/effect-smtp-aiosmtpd), EFFECT_SMTP_AIOSMTPD_WAIT (30),
# EFFECT_SMTP_AIOSMTPD_PYTHON (/usr/bin/python3).
set -euo pipefail

SERVICE=aiosmtpd-test
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/service.sh"

readonly PORT="${EFFECT_SMTP_AIOSMTPD_PORT:-2545}"
readonly REFUSING_PORT=$((PORT + 1))
readonly TLS_PORT=$((PORT + 2))
readonly AFTER_DATA_PORT=$((PORT + 3))
readonly PORTS=("$PORT" "$REFUSING_PORT" "$TLS_PORT" "$AFTER_DATA_PORT")
readonly BASE="${EFFECT_SMTP_AIOSMTPD_DIR:-/var/lib/effect-smtp-aiosmtpd}"
readonly WAIT="${EFFECT_SMTP_AIOSMTPD_WAIT:-30}"
readonly PYTHON="${EFFECT_SMTP_AIOSMTPD_PYTHON:-/usr/bin/python3}"
SERVER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/aiosmtpd/server.py"
readonly SERVER
readonly PIDFILE="$BASE/server.pid"
readonly LOG="$BASE/server.log"
readonly LOG_FILES=("$LOG")
readonly MAILDIR="$BASE/maildir"
readonly TLS_DIR="$BASE/tls"

running() { live_pid "$PIDFILE" >/dev/null; }

ready() {
  greets_on "$PORT" && greets_on "$REFUSING_PORT" && greets_tls_on "$TLS_PORT" "$TLS_DIR/ca.pem" &&
    greets_on "$AFTER_DATA_PORT"
}

print_env() {
  printf 'EFFECT_SMTP_AIOSMTPD=%s:%s\n' "$HOST" "$PORT"
  printf 'EFFECT_SMTP_AIOSMTPD_REFUSING=%s:%s\n' "$HOST" "$REFUSING_PORT"
  printf 'EFFECT_SMTP_AIOSMTPD_TLS=%s:%s\n' "$HOST" "$TLS_PORT"
  printf 'EFFECT_SMTP_AIOSMTPD_AFTER_DATA=%s:%s\n' "$HOST" "$AFTER_DATA_PORT"
  printf 'EFFECT_SMTP_AIOSMTPD_MAILDIR=%s\n' "$MAILDIR"
  printf 'EFFECT_SMTP_AIOSMTPD_CA=%s\n' "$TLS_DIR/ca.pem"
  printf 'EFFECT_SMTP_AIOSMTPD_LOG=%s\n' "$LOG"
}

preflight() {
  check_port EFFECT_SMTP_AIOSMTPD_PORT "$PORT"
  check_seconds EFFECT_SMTP_AIOSMTPD_WAIT "$WAIT"
  [[ -x $PYTHON ]] || die "$PYTHON is missing (Debian's python3)"
  "$PYTHON" -c 'import aiosmtpd' 2>/dev/null ||
    die "$PYTHON cannot import aiosmtpd: apt-get install python3-aiosmtpd (.ci/apt-packages lists it)"
}

cmd_start() {
  preflight
  if running; then
    log "running (pid $(<"$PIDFILE")); restarting it"
    stop_pid "$PIDFILE" "$WAIT"
  fi
  ensure_ports_free EFFECT_SMTP_AIOSMTPD_PORT "${PORTS[@]}"
  install -d -m 0755 "$BASE" "$MAILDIR"
  make_certs "$TLS_DIR"
  log "starting aiosmtpd $("$PYTHON" -c 'import aiosmtpd; print(aiosmtpd.__version__)') on $HOST:$PORT (STARTTLS, AUTH), :$REFUSING_PORT (every second recipient refused), :$TLS_PORT (implicit TLS), :$AFTER_DATA_PORT (refuses commands pipelined after end of DATA)"
  : >"$LOG"
  spawn "$PIDFILE" "$LOG" "$PYTHON" "$SERVER" --host "$HOST" --port "$PORT" --maildir "$MAILDIR" \
    --cert "$TLS_DIR/chain.pem" --key "$TLS_DIR/server.key" --user smtptest --password interop-secret
  await_ready "no 220 greeting on $HOST:$PORT, :$REFUSING_PORT, :$TLS_PORT and :$AFTER_DATA_PORT" "$PIDFILE"
  log "ready: messages land in $MAILDIR/new; log: $LOG"
  print_env
}

cmd_stop() { stop_daemon "$PIDFILE" "${PORTS[@]}"; }

service_main "$@"
