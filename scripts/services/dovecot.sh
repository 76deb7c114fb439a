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
# first start (signed by a private CA, for localhost and 127.0.0.1; trust the
# CA with EFFECT_SMTP_DOVECOT_CA), `auth_mechanisms = scram-sha-256 scram-sha-1 plain`
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
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/service.sh"

readonly LMTP_PORT="${EFFECT_SMTP_DOVECOT_LMTP_PORT:-2575}"
readonly SUBMISSION_PORT="${EFFECT_SMTP_DOVECOT_SUBMISSION_PORT:-2576}"
readonly SINK_PORT="${EFFECT_SMTP_DOVECOT_SINK_PORT:-2577}"
readonly BASE="${EFFECT_SMTP_DOVECOT_DIR:-/var/lib/effect-smtp-dovecot}"
readonly WAIT="${EFFECT_SMTP_DOVECOT_WAIT:-30}"
readonly CONF="$BASE/etc/dovecot.conf"
readonly LOG="$BASE/dovecot.log"
readonly SINK_LOG="$BASE/smtp-sink.log"
readonly SINK_PID="$BASE/smtp-sink.pid"
readonly LOG_FILES=("$LOG" "$SINK_LOG")
readonly TLS_DIR="$BASE/tls"
readonly MAIL_USER=dovetest
readonly ALICE_PASSWORD='alice-scram-256'
readonly BOB_PASSWORD='bob-clear-text'
readonly CAROL_PASSWORD='IX'

print_env() {
  printf 'EFFECT_SMTP_DOVECOT_SUBMISSION=%s:%s\n' "$HOST" "$SUBMISSION_PORT"
  printf 'EFFECT_SMTP_DOVECOT_LMTP=%s:%s\n' "$HOST" "$LMTP_PORT"
  printf 'EFFECT_SMTP_DOVECOT_CA=%s\n' "$TLS_DIR/cert.pem"
  printf 'EFFECT_SMTP_DOVECOT_USERS=alice:%s,bob:%s,carol:%s\n' "$ALICE_PASSWORD" "$BOB_PASSWORD" "$CAROL_PASSWORD"
  printf 'EFFECT_SMTP_DOVECOT_SINK_DIR=%s\n' "$BASE/sink"
  printf 'EFFECT_SMTP_DOVECOT_LMTP_MAILBOX=alice@localhost\n'
  printf 'EFFECT_SMTP_DOVECOT_LMTP_MAILDIR=%s\n' "$BASE/mail/alice/Maildir"
  printf 'EFFECT_SMTP_DOVECOT_LMTP_FULL_MAILBOX=full@localhost\n'
  printf 'EFFECT_SMTP_DOVECOT_LMTP_FULL_MAILDIR=%s\n' "$BASE/mail/full/Maildir"
}

preflight() {
  require_root "the Dovecot master binds its ports and switches to the mail user"
  local install="apt-get install -y --no-install-recommends dovecot-core dovecot-submissiond dovecot-lmtpd (with service start-up denied; .ci/run does this)"
  require_command dovecot "Dovecot is not installed. On Debian/Ubuntu: $install"
  require_command doveadm "Dovecot is not installed. On Debian/Ubuntu: $install"
  [[ -x /usr/lib/dovecot/submission ]] || die "Dovecot's submission service is missing: apt-get install dovecot-submissiond"
  [[ -x /usr/lib/dovecot/lmtp ]] || die "Dovecot's LMTP service is missing: apt-get install dovecot-lmtpd"
  require_command smtp-sink "smtp-sink (Debian postfix) is missing: apt-get install postfix"
  check_port EFFECT_SMTP_DOVECOT_LMTP_PORT "$LMTP_PORT"
  check_port EFFECT_SMTP_DOVECOT_SUBMISSION_PORT "$SUBMISSION_PORT"
  check_port EFFECT_SMTP_DOVECOT_SINK_PORT "$SINK_PORT"
  check_seconds EFFECT_SMTP_DOVECOT_WAIT "$WAIT"
}

ready() { greets_on "$SUBMISSION_PORT" && greets_on "$LMTP_PORT" && greets_on "$SINK_PORT"; }

dovecot_running() { [[ -f $CONF ]] && live_pid "$BASE/run/master.pid" >/dev/null; }

running() { dovecot_running && live_pid "$SINK_PID" >/dev/null; }

make_certificate() {
  make_certs "$TLS_DIR"
  # The name the environment has always given the CA (EFFECT_SMTP_DOVECOT_CA).
  ln -sfn ca.pem "$TLS_DIR/cert.pem"
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
ssl_cert = <$TLS_DIR/chain.pem
ssl_key = <$TLS_DIR/server.key
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
  ensure_ports_free EFFECT_SMTP_DOVECOT_SINK_PORT "$SINK_PORT"
  log "starting smtp-sink on 127.0.0.1:$SINK_PORT (dumps into $BASE/sink)"
  # One file per transaction; runs as nobody after binding.
  spawn "$SINK_PID" "$SINK_LOG" smtp-sink -u nobody -d "$BASE/sink/%Y%m%d%H%M%S." "$HOST:$SINK_PORT" 64
  wait_for "$WAIT" listening_on "$SINK_PORT" || { show_log "$SINK_LOG"; die "smtp-sink does not accept connections on 127.0.0.1:$SINK_PORT"; }
}

start_dovecot() {
  if dovecot_running; then
    log "Dovecot in $BASE is running; reloading its configuration"
    dovecot -c "$CONF" reload >&2 || { show_log "$LOG"; die "dovecot reload failed"; }
    return
  fi
  ensure_ports_free "EFFECT_SMTP_DOVECOT_*_PORT" "$SUBMISSION_PORT" "$LMTP_PORT"
  log "checking the configuration"
  doveconf -c "$CONF" -n >/dev/null || die "doveconf rejects $CONF"
  log "starting Dovecot: submission on 127.0.0.1:$SUBMISSION_PORT, LMTP on 127.0.0.1:$LMTP_PORT"
  dovecot -c "$CONF" >&2 || { show_log "$LOG"; die "dovecot failed to start"; }
}

cmd_start() {
  preflight
  ensure_system_user "$MAIL_USER"
  make_certificate
  write_config
  start_sink
  start_dovecot
  await_ready "no 220 greeting on 127.0.0.1:$SUBMISSION_PORT, :$LMTP_PORT and :$SINK_PORT"
  log "ready: submission 127.0.0.1:$SUBMISSION_PORT (SCRAM, relays to smtp-sink :$SINK_PORT), LMTP 127.0.0.1:$LMTP_PORT; log $LOG"
  print_env
}

cmd_stop() {
  preflight
  if dovecot_running; then
    log "stopping Dovecot ($BASE)"
    dovecot -c "$CONF" stop >&2 || true
    wait_for "$WAIT" not any_listening "$SUBMISSION_PORT" "$LMTP_PORT" || die "Dovecot still answers ${WAIT}s after stop"
  else
    log "Dovecot not running ($BASE)"
  fi
  stop_daemon "$SINK_PID" "$SINK_PORT"
}

service_main "$@"
