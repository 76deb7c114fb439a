#!/usr/bin/env bash
# One private Dovecot (Debian `dovecot-core`, `dovecot-submissiond`,
# `dovecot-lmtpd`) for the SCRAM and LMTP tests, with an `smtp-sink` (from
# Postfix) behind its submission service:
#
#   scripts/services/dovecot.sh start    configure (idempotent), start what is not running, wait for the greetings
#   scripts/services/dovecot.sh stop     stop Dovecot and the sink
#   scripts/services/dovecot.sh status   exit 0 when submission and LMTP greet, 3 otherwise
#   scripts/services/dovecot.sh log      the last lines of Dovecot's and the sink's logs
#
# Submission (SUBMISSION_PORT, 2576): STARTTLS with a certificate made at the
# first start (self-signed, for localhost and 127.0.0.1; trust it with
# EFFECT_SMTP_DOVECOT_CA), `auth_mechanisms = scram-sha-256 scram-sha-1 plain`
# (Dovecot counts loopback as secure, so it offers PLAIN before STARTTLS too).
# Users, from a passwd-file:
#   alice  password stored as a SCRAM-SHA-256 hash (so SCRAM-SHA-256 and PLAIN work, SCRAM-SHA-1 cannot)
#   bob    password stored in clear (every mechanism works)
#   carol  password "IX" stored in clear: RFC 4013's example, a client that
#          SASLpreps "I<U+00AD>X" (a soft hyphen, mapped to nothing) gets in
# Accepted mail is relayed to SINK_PORT (2577), an smtp-sink that dumps each
# transaction into EFFECT_SMTP_DOVECOT_SINK_DIR (one file per message).
#
# LMTP (LMTP_PORT, 2575): delivers into Maildirs under BASE/mail with the
# quota plugin: alice@localhost has no limit, full@localhost a 1-byte quota,
# so after the final dot one message gets 250 for alice and 552 5.2.2 for
# full (quota is checked at delivery, not at RCPT: lmtp_rcpt_check_quota=no).
#
# Everything listens on 127.0.0.1 only; no system service is touched
# (/etc/dovecot is not read): own base_dir, config, state, logs and mail in
# BASE. Mail is owned by the system user `dovetest`, created when missing.
#
# `start` and `status` print the test environment on stdout:
#   EFFECT_SMTP_DOVECOT_SUBMISSION=127.0.0.1:2576
#   EFFECT_SMTP_DOVECOT_LMTP=127.0.0.1:2575
#   EFFECT_SMTP_DOVECOT_CA=<BASE>/tls/cert.pem
#   EFFECT_SMTP_DOVECOT_USERS=alice:<password>,bob:<password>,carol:IX
#   EFFECT_SMTP_DOVECOT_SINK_DIR=<BASE>/sink
#   EFFECT_SMTP_DOVECOT_LMTP_MAILBOX=alice@localhost
#   EFFECT_SMTP_DOVECOT_LMTP_MAILDIR=<BASE>/mail/alice/Maildir
#   EFFECT_SMTP_DOVECOT_LMTP_FULL_MAILBOX=full@localhost
#   EFFECT_SMTP_DOVECOT_LMTP_FULL_MAILDIR=<BASE>/mail/full/Maildir
#
# Knobs: EFFECT_SMTP_DOVECOT_LMTP_PORT (2575), EFFECT_SMTP_DOVECOT_SUBMISSION_PORT
# (2576), EFFECT_SMTP_DOVECOT_SINK_PORT (2577), EFFECT_SMTP_DOVECOT_DIR
# (/var/lib/effect-smtp-dovecot), EFFECT_SMTP_DOVECOT_WAIT (30 s).
set -euo pipefail

SERVICE=dovecot-test
# shellcheck source=lib/service.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib/service.bash"

readonly LMTP_PORT="${EFFECT_SMTP_DOVECOT_LMTP_PORT:-2575}"
readonly SUBMISSION_PORT="${EFFECT_SMTP_DOVECOT_SUBMISSION_PORT:-2576}"
readonly SINK_PORT="${EFFECT_SMTP_DOVECOT_SINK_PORT:-2577}"
readonly BASE="${EFFECT_SMTP_DOVECOT_DIR:-/var/lib/effect-smtp-dovecot}"
readonly WAIT="${EFFECT_SMTP_DOVECOT_WAIT:-30}"
readonly CONF="$BASE/etc/dovecot.conf"
readonly LOG="$BASE/dovecot.log"
readonly SINK_LOG="$BASE/smtp-sink.log"
readonly SINK_PID="$BASE/smtp-sink.pid"
readonly MAIL_USER=dovetest
readonly ALICE_PASSWORD='alice-scram-256'
readonly BOB_PASSWORD='bob-clear-text'
readonly CAROL_PASSWORD='IX'

print_env() {
  printf 'EFFECT_SMTP_DOVECOT_SUBMISSION=127.0.0.1:%s\n' "$SUBMISSION_PORT"
  printf 'EFFECT_SMTP_DOVECOT_LMTP=127.0.0.1:%s\n' "$LMTP_PORT"
  printf 'EFFECT_SMTP_DOVECOT_CA=%s\n' "$BASE/tls/cert.pem"
  printf 'EFFECT_SMTP_DOVECOT_USERS=alice:%s,bob:%s,carol:%s\n' "$ALICE_PASSWORD" "$BOB_PASSWORD" "$CAROL_PASSWORD"
  printf 'EFFECT_SMTP_DOVECOT_SINK_DIR=%s\n' "$BASE/sink"
  printf 'EFFECT_SMTP_DOVECOT_LMTP_MAILBOX=alice@localhost\n'
  printf 'EFFECT_SMTP_DOVECOT_LMTP_MAILDIR=%s\n' "$BASE/mail/alice/Maildir"
  printf 'EFFECT_SMTP_DOVECOT_LMTP_FULL_MAILBOX=full@localhost\n'
  printf 'EFFECT_SMTP_DOVECOT_LMTP_FULL_MAILDIR=%s\n' "$BASE/mail/full/Maildir"
}

preflight() {
  require_root "the Dovecot master binds its ports and switches to the mail user" "$@"
  command -v dovecot >/dev/null 2>&1 && command -v doveadm >/dev/null 2>&1 ||
    die "Dovecot is not installed. On Debian/Ubuntu: apt-get install -y --no-install-recommends dovecot-core dovecot-submissiond dovecot-lmtpd (with service start-up denied; .ci/run does this)"
  [[ -x /usr/lib/dovecot/submission ]] || die "Dovecot's submission service is missing: apt-get install dovecot-submissiond"
  [[ -x /usr/lib/dovecot/lmtp ]] || die "Dovecot's LMTP service is missing: apt-get install dovecot-lmtpd"
  command -v smtp-sink >/dev/null 2>&1 || die "smtp-sink (Debian postfix) is missing: apt-get install postfix"
  command -v openssl >/dev/null 2>&1 || die "openssl is missing: apt-get install openssl"
  check_port EFFECT_SMTP_DOVECOT_LMTP_PORT "$LMTP_PORT"
  check_port EFFECT_SMTP_DOVECOT_SUBMISSION_PORT "$SUBMISSION_PORT"
  check_port EFFECT_SMTP_DOVECOT_SINK_PORT "$SINK_PORT"
  [[ $WAIT =~ ^[0-9]+$ ]] || die "EFFECT_SMTP_DOVECOT_WAIT must be a number of seconds, got '$WAIT'"
}

# Succeeds when 127.0.0.1:$1 answers with a 220 greeting; the read is bounded.
greets_on() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    IFS= read -r -t 5 line <&3 || exit 1
    printf 'QUIT\r\n' >&3 || true
    [[ $line == 220* ]]
  ) 2>/dev/null
}

greets() { greets_on "$SUBMISSION_PORT" && greets_on "$LMTP_PORT" && greets_on "$SINK_PORT"; }

dovecot_running() { [[ -f $CONF ]] && live_pid "$BASE/run/master.pid" >/dev/null; }

make_certificate() {
  local dir="$BASE/tls"
  install -d -m 0755 "$dir"
  # Made once and kept, so a test run can read it while Dovecot restarts.
  [[ -s $dir/cert.pem && -s $dir/key.pem ]] && return
  log "making a self-signed certificate for localhost in $dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null || die "openssl could not make the test certificate"
  chmod 0600 "$dir/key.pem"
}

write_config() {
  local uid gid alice_hash
  uid="$(id -u "$MAIL_USER")"
  gid="$(id -g "$MAIL_USER")"
  install -d -m 0755 "$BASE" "$BASE/etc" "$BASE/state"
  install -d -o "$MAIL_USER" -g "$gid" -m 0700 "$BASE/mail"
  install -d -o nobody -g nogroup -m 0755 "$BASE/sink"
  alice_hash="$(doveadm pw -s SCRAM-SHA-256 -p "$ALICE_PASSWORD")"
  # user:password:uid:gid:gecos:home:shell:extra fields
  cat >"$BASE/etc/users.new" <<USERS
alice:$alice_hash:$uid:$gid::$BASE/mail/alice::
bob:{PLAIN}$BOB_PASSWORD:$uid:$gid::$BASE/mail/bob::
carol:{PLAIN}$CAROL_PASSWORD:$uid:$gid::$BASE/mail/carol::
full:{PLAIN}no-login-needed:$uid:$gid::$BASE/mail/full::userdb_quota_rule=*:storage=1B
USERS
  chmod 0640 "$BASE/etc/users.new"
  chgrp dovecot "$BASE/etc/users.new"
  mv -f "$BASE/etc/users.new" "$BASE/etc/users"

  cat >"$CONF.new" <<CONF
# Written by scripts/services/dovecot.sh; rewritten on every start.
base_dir = $BASE/run
state_dir = $BASE/state
instance_name = effect-smtp-dovecot
log_path = $LOG
protocols = submission lmtp
listen = 127.0.0.1
hostname = localhost
postmaster_address = postmaster@localhost
first_valid_uid = $uid
last_valid_uid = $uid

ssl = yes
ssl_cert = <$BASE/tls/cert.pem
ssl_key = <$BASE/tls/key.pem
ssl_min_protocol = TLSv1.2

auth_mechanisms = scram-sha-256 scram-sha-1 plain
# alice@localhost (LMTP) and alice (submission) are the same user.
auth_username_format = %Ln
auth_verbose = yes
# Tests fail logins on purpose: no 2-second delay per failure, and no growing
# penalty for the IP (anvil's), which would slow every later test.
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $BASE/etc/users
}
userdb {
  driver = passwd-file
  args = username_format=%n $BASE/etc/users
}

mail_location = maildir:~/Maildir
mail_plugins = quota
plugin {
  quota = maildir:User quota
}

submission_relay_host = 127.0.0.1
submission_relay_port = $SINK_PORT
submission_relay_ssl = no

protocol lmtp {
  mail_plugins = \$mail_plugins
  lmtp_rcpt_check_quota = no
}

service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service submission-login {
  inet_listener submission {
    address = 127.0.0.1
    port = $SUBMISSION_PORT
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
}
CONF
  mv -f "$CONF.new" "$CONF"
}

start_sink() {
  if live_pid "$SINK_PID" >/dev/null; then
    log "smtp-sink on 127.0.0.1:$SINK_PORT is running"
    return
  fi
  listening_on "$SINK_PORT" && die "127.0.0.1:$SINK_PORT is already in use by another program; choose another with EFFECT_SMTP_DOVECOT_SINK_PORT"
  log "starting smtp-sink on 127.0.0.1:$SINK_PORT (dumps into $BASE/sink)"
  # One file per transaction; runs as nobody after binding.
  setsid smtp-sink -u nobody -d "$BASE/sink/%Y%m%d%H%M%S." "127.0.0.1:$SINK_PORT" 64 </dev/null >>"$SINK_LOG" 2>&1 &
  printf '%s\n' "$!" >"$SINK_PID"
  wait_for_port "$SINK_PORT" "$WAIT" || { show_log "$SINK_LOG"; die "smtp-sink does not accept connections on 127.0.0.1:$SINK_PORT"; }
}

start_dovecot() {
  if dovecot_running; then
    log "Dovecot in $BASE is running; reloading its configuration"
    dovecot -c "$CONF" reload >&2 || { show_log "$LOG"; die "dovecot reload failed"; }
    return
  fi
  local port
  for port in "$SUBMISSION_PORT" "$LMTP_PORT"; do
    listening_on "$port" && die "127.0.0.1:$port is already in use by another program; choose other ports (EFFECT_SMTP_DOVECOT_*_PORT)"
  done
  log "checking the configuration"
  doveconf -c "$CONF" -n >/dev/null || die "doveconf rejects $CONF"
  log "starting Dovecot: submission on 127.0.0.1:$SUBMISSION_PORT, LMTP on 127.0.0.1:$LMTP_PORT"
  dovecot -c "$CONF" >&2 || { show_log "$LOG"; die "dovecot failed to start"; }
}

wait_for_greetings() {
  local deadline=$((SECONDS + WAIT))
  until greets; do
    if ((SECONDS >= deadline)); then
      show_log "$LOG"
      die "no 220 greeting on 127.0.0.1:$SUBMISSION_PORT, :$LMTP_PORT and :$SINK_PORT within ${WAIT}s"
    fi
    sleep 0.3
  done
}

cmd_start() {
  preflight "$@"
  ensure_system_user "$MAIL_USER"
  make_certificate
  write_config
  start_sink
  start_dovecot
  wait_for_greetings
  log "ready: submission 127.0.0.1:$SUBMISSION_PORT (SCRAM, relays to smtp-sink :$SINK_PORT), LMTP 127.0.0.1:$LMTP_PORT; log $LOG"
  print_env
}

cmd_stop() {
  preflight "$@"
  if dovecot_running; then
    log "stopping Dovecot ($BASE)"
    dovecot -c "$CONF" stop >&2 || true
    wait_for_port_closed "$SUBMISSION_PORT" "$WAIT" && wait_for_port_closed "$LMTP_PORT" "$WAIT" ||
      die "Dovecot still answers ${WAIT}s after stop"
  else
    log "Dovecot not running ($BASE)"
  fi
  if live_pid "$SINK_PID" >/dev/null; then
    log "stopping smtp-sink"
    stop_pid "$SINK_PID" "$WAIT"
  fi
}

cmd_status() {
  if dovecot_running && live_pid "$SINK_PID" >/dev/null && greets; then
    log "running: submission 127.0.0.1:$SUBMISSION_PORT, LMTP 127.0.0.1:$LMTP_PORT, sink 127.0.0.1:$SINK_PORT ($BASE)"
    print_env
  else
    log "not running ($BASE)"
    exit 3
  fi
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status ;;
  log) print_logs "$LOG" "$SINK_LOG" ;;
  *) usage ;;
esac
