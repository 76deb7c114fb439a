#!/usr/bin/env bash
# A private Postfix instance for the real-MTA tests (packages/node/test/Postfix.test.ts).
#
#   scripts/services/postfix.sh start    configure (idempotent), start or reload, wait for the 220 greeting
#   scripts/services/postfix.sh stop     stop the instance (its files stay for the next start)
#   scripts/services/postfix.sh status   exit 0 when it is running and greets, 3 otherwise
#   scripts/services/postfix.sh log      the last 50 lines of the instance's mail log
#
# It never touches the system Postfix (/etc/postfix, /var/spool/postfix): the
# instance has its own config, queue and data directories, started with
# `postfix -c DIR`. It listens on 127.0.0.1 only, relays nothing, and delivers
# mail for smtptest@localhost into ~smtptest/Maildir/new. The system user
# `smtptest` is created when missing. Needs root and the Debian `postfix`
# package (`.ci/run` installs it).
#
# Three listeners share the instance: PORT offers CHUNKING (a client sends BDAT),
# DATA_PORT hides it (a client must use DATA, with dot-stuffing), IDLE_PORT
# drops a client silent for IDLE_TIMEOUT seconds (smtpd_timeout: 421, then the
# close), for the pool tests of idle connections the server drops.
#
# `start` and `status` print the test environment on stdout, one KEY=VALUE per
# line; everything else goes to stderr:
#   EFFECT_SMTP_POSTFIX=127.0.0.1:2525
#   EFFECT_SMTP_POSTFIX_DATA=127.0.0.1:2526
#   EFFECT_SMTP_POSTFIX_IDLE=127.0.0.1:2527
#   EFFECT_SMTP_POSTFIX_IDLE_TIMEOUT=2
#   EFFECT_SMTP_POSTFIX_MAILDIR=/home/smtptest/Maildir
#
# Knobs: EFFECT_SMTP_POSTFIX_PORT (2525), EFFECT_SMTP_POSTFIX_DATA_PORT
# (PORT + 1), EFFECT_SMTP_POSTFIX_IDLE_PORT (PORT + 2),
# EFFECT_SMTP_POSTFIX_IDLE_TIMEOUT (2 seconds), EFFECT_SMTP_POSTFIX_DIR
# (/var/lib/effect-smtp-postfix/<port>), EFFECT_SMTP_POSTFIX_WAIT (30 seconds).
set -euo pipefail

SERVICE=postfix-test
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/service.sh"

readonly PORT="${EFFECT_SMTP_POSTFIX_PORT:-2525}"
readonly DATA_PORT="${EFFECT_SMTP_POSTFIX_DATA_PORT:-$((PORT + 1))}"
readonly IDLE_PORT="${EFFECT_SMTP_POSTFIX_IDLE_PORT:-$((PORT + 2))}"
readonly IDLE_TIMEOUT="${EFFECT_SMTP_POSTFIX_IDLE_TIMEOUT:-2}"
readonly BASE="${EFFECT_SMTP_POSTFIX_DIR:-/var/lib/effect-smtp-postfix/${PORT}}"
readonly WAIT="${EFFECT_SMTP_POSTFIX_WAIT:-30}"
readonly TEST_USER=smtptest
# A UTF-8 local part aliased to the test user, for the SMTPUTF8 test.
readonly UTF8_ALIAS="δοκιμή@localhost"
readonly CONF="$BASE/etc"
readonly LOG="$BASE/maillog"
readonly LOG_FILES=("$LOG")

ready() {
  greets_on "$PORT" && greets_on "$DATA_PORT" && greets_on "$IDLE_PORT"
}

running() {
  if [[ $(id -u) == 0 ]]; then
    [[ -f $CONF/main.cf ]] && postfix -c "$CONF" status >/dev/null 2>&1
  else
    # Only root may ask the master; a greeting is the best we can see.
    ready
  fi
}

maildir() {
  local home
  home="$(getent passwd "$TEST_USER" | cut -d: -f6)"
  printf '%s/Maildir' "$home"
}

print_env() {
  printf 'EFFECT_SMTP_POSTFIX=%s:%s\n' "$HOST" "$PORT"
  printf 'EFFECT_SMTP_POSTFIX_DATA=%s:%s\n' "$HOST" "$DATA_PORT"
  printf 'EFFECT_SMTP_POSTFIX_IDLE=%s:%s\n' "$HOST" "$IDLE_PORT"
  printf 'EFFECT_SMTP_POSTFIX_IDLE_TIMEOUT=%s\n' "$IDLE_TIMEOUT"
  printf 'EFFECT_SMTP_POSTFIX_MAILDIR=%s\n' "$(maildir)"
}

preflight() {
  require_root "it starts a Postfix master and creates the user $TEST_USER"
  local install="echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections; DEBIAN_FRONTEND=noninteractive apt-get install -y postfix"
  require_command postfix "Postfix is not installed. On Debian/Ubuntu: $install"
  require_command postconf "Postfix is not installed. On Debian/Ubuntu: $install"
  check_port EFFECT_SMTP_POSTFIX_PORT "$PORT"
  check_port EFFECT_SMTP_POSTFIX_DATA_PORT "$DATA_PORT"
  check_port EFFECT_SMTP_POSTFIX_IDLE_PORT "$IDLE_PORT"
  [[ $PORT != "$DATA_PORT" ]] || die "EFFECT_SMTP_POSTFIX_PORT and EFFECT_SMTP_POSTFIX_DATA_PORT must differ"
  [[ $IDLE_PORT != "$PORT" && $IDLE_PORT != "$DATA_PORT" ]] || die "EFFECT_SMTP_POSTFIX_IDLE_PORT must differ from the other two ports"
  check_seconds EFFECT_SMTP_POSTFIX_IDLE_TIMEOUT "$IDLE_TIMEOUT"
  (( IDLE_TIMEOUT > 0 )) || die "EFFECT_SMTP_POSTFIX_IDLE_TIMEOUT must be at least 1 second"
  check_seconds EFFECT_SMTP_POSTFIX_WAIT "$WAIT"
}

ensure_user() {
  ensure_system_user "$TEST_USER" "/home/$TEST_USER"
  local home
  home="$(getent passwd "$TEST_USER" | cut -d: -f6)"
  [[ -d $home ]] || install -d -o "$TEST_USER" -g "$(id -gn "$TEST_USER")" -m 0700 "$home"
  # local(8) creates the Maildir on first delivery; creating it now lets a test
  # poll Maildir/new before the first message arrives.
  local sub
  for sub in "" /new /cur /tmp; do
    install -d -o "$TEST_USER" -g "$(id -gn "$TEST_USER")" -m 0700 "$home/Maildir$sub"
  done
}

write_config() {
  install -d -m 0755 "$BASE" "$CONF" "$BASE/spool"
  install -d -o postfix -m 0700 "$BASE/data"

  local version level=2
  version="$(postconf -dh mail_version)"
  if [[ $(printf '%s\n' 3.6 "$version" | sort -V | head -n 1) == 3.6 ]]; then level=3.6; fi

  cat >"$CONF/main.cf.new" <<EOF
# Written by scripts/services/postfix.sh; rewritten on every start.
compatibility_level = $level
config_directory = $CONF
queue_directory = $BASE/spool
data_directory = $BASE/data
maillog_file = $LOG
maillog_file_prefixes = $BASE
smtpd_banner = \$myhostname ESMTP effect-smtp test Postfix

myhostname = localhost
mydomain = localdomain
myorigin = localhost
mydestination = localhost
append_dot_mydomain = no
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8

# Nothing leaves this machine: recipients outside mydestination are refused
# at RCPT, and whatever still reaches a remote transport (a bounce) fails.
smtpd_relay_restrictions = reject_unauth_destination
default_transport = error:the effect-smtp test instance does not relay
relay_transport = error:the effect-smtp test instance does not relay

# Unknown local users are refused at RCPT (550 5.1.1) through the default
# local_recipient_maps (the passwd file). No /etc/aliases: only the UTF-8
# alias below.
alias_maps =
alias_database =
virtual_alias_maps = inline:{ { $UTF8_ALIAS = $TEST_USER@localhost } }
home_mailbox = Maildir/
mailbox_size_limit = 0
message_size_limit = 67108864
smtputf8_enable = yes
biff = no

# Fast and deterministic for tests.
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
in_flow_delay = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 10s
EOF

  # No chroot: a chrooted service would need copies of /etc files in the queue.
  cat >"$CONF/master.cf.new" <<EOF
# Written by scripts/services/postfix.sh; rewritten on every start.
# service type  private unpriv  chroot  wakeup  maxproc command
$HOST:$PORT inet n      -       n       -       -       smtpd
$HOST:$DATA_PORT inet n -       n       -       -       smtpd
  -o smtpd_discard_ehlo_keywords=chunking
$HOST:$IDLE_PORT inet n -       n       -       -       smtpd
  -o smtpd_timeout=${IDLE_TIMEOUT}s
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  mv -f "$CONF/main.cf.new" "$CONF/main.cf"
  mv -f "$CONF/master.cf.new" "$CONF/master.cf"
}

cmd_start() {
  preflight
  ensure_user
  if running; then
    write_config
    log "instance in $BASE is running; reloading its configuration"
    with_tty postfix -c "$CONF" reload || { show_log "$LOG"; die "postfix reload failed"; }
  else
    ensure_ports_free "EFFECT_SMTP_POSTFIX_PORT (and EFFECT_SMTP_POSTFIX_DATA_PORT, EFFECT_SMTP_POSTFIX_IDLE_PORT: PORT + 1, PORT + 2)" "$PORT" "$DATA_PORT" "$IDLE_PORT"
    write_config
    log "checking the instance in $BASE"
    with_tty postfix -c "$CONF" check || { show_log "$LOG"; die "postfix check failed"; }
    log "starting Postfix on $HOST:$PORT (CHUNKING), $HOST:$DATA_PORT (no CHUNKING) and $HOST:$IDLE_PORT (smtpd_timeout ${IDLE_TIMEOUT}s)"
    with_tty postfix -c "$CONF" start || { show_log "$LOG"; die "postfix start failed"; }
  fi
  await_ready "no 220 greeting on $HOST:$PORT, $HOST:$DATA_PORT and $HOST:$IDLE_PORT"
  log "ready: $HOST:$PORT (CHUNKING), $HOST:$DATA_PORT (no CHUNKING) and $HOST:$IDLE_PORT (smtpd_timeout ${IDLE_TIMEOUT}s) deliver $TEST_USER@localhost (and $UTF8_ALIAS) into $(maildir)/new; log: $LOG"
  print_env
}

cmd_stop() {
  preflight
  if running; then
    log "stopping the instance in $BASE"
    with_tty postfix -c "$CONF" stop || { show_log "$LOG"; die "postfix stop failed"; }
    wait_for "$WAIT" not any_listening "$PORT" "$DATA_PORT" "$IDLE_PORT" || die "$HOST:$PORT, $HOST:$DATA_PORT or $HOST:$IDLE_PORT still answers ${WAIT}s after stop"
  else
    log "not running (instance dir $BASE)"
  fi
}

service_main "$@"
