#!/usr/bin/env bash
# A private Exim for the interop tests (packages/node/test/interop/exim.test.ts).
#
#   scripts/services/exim.sh start    unpack Exim (once), configure, start, wait for the greetings
#   scripts/services/exim.sh stop     stop the daemon (its files stay for the next start)
#   scripts/services/exim.sh status   exit 0 when it is running and greets, 3 otherwise
#   scripts/services/exim.sh log      the last lines of its main and panic logs
#
# Debian's exim4-daemon-light conflicts with the installed Postfix, so it is
# never installed: its files are taken with `apt-get download` + `dpkg -x`
# into $BASE/pkg and the daemon runs from there with `-C` its own
# configuration, spool, log and Maildir under $BASE. No system service, file
# or port is touched. Runs as root; Exim drops to the system user Debian-exim
# (created when missing: the binary looks that name up before it reads any
# configuration) to receive and deliver. Root with `-C` makes Exim print a
# notice about privileges: it is harmless here.
# Needs libidn12 (not installed with Postfix; .ci/apt-packages lists it).
#
# Listeners (127.0.0.1 only; all offer PIPELINING, 8BITMIME, SMTPUTF8, DSN,
# STARTTLS, and AUTH PLAIN/LOGIN once TLS is on):
#   PORT       (2531) CHUNKING offered: a client sends BDAT
#   DATA_PORT  (2532) CHUNKING hidden: a client must use DATA (dot-stuffing)
#   TLS_PORT   (2533) implicit TLS (SMTPS)
# Mail for smtptest@localhost, sender@localhost and δοκιμή@localhost goes to
# one Maildir ($BASE/maildir/new); any other recipient is refused at RCPT with
# 550; nothing is relayed. The AUTH user is `smtptest`, password
# `interop-secret` (a test-only credential, known to the tests).
#
# `start` and `status` print the test environment on stdout:
#   EFFECT_SMTP_EXIM=127.0.0.1:2531
#   EFFECT_SMTP_EXIM_DATA=127.0.0.1:2532
#   EFFECT_SMTP_EXIM_TLS=127.0.0.1:2533
#   EFFECT_SMTP_EXIM_MAILDIR=/var/lib/effect-smtp-exim/maildir
#   EFFECT_SMTP_EXIM_CA=/var/lib/effect-smtp-exim/tls/ca.pem
#   EFFECT_SMTP_EXIM_LOG=/var/lib/effect-smtp-exim/log/mainlog
#
# Knobs: EFFECT_SMTP_EXIM_PORT (2531; DATA_PORT and TLS_PORT follow it),
# EFFECT_SMTP_EXIM_DIR (/var/lib/effect-smtp-exim), EFFECT_SMTP_EXIM_WAIT (30).
set -euo pipefail

SERVICE=exim-test
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/service.sh"

readonly PORT="${EFFECT_SMTP_EXIM_PORT:-2531}"
readonly DATA_PORT=$((PORT + 1))
readonly TLS_PORT=$((PORT + 2))
readonly BASE="${EFFECT_SMTP_EXIM_DIR:-/var/lib/effect-smtp-exim}"
readonly WAIT="${EFFECT_SMTP_EXIM_WAIT:-30}"
readonly EXIM_USER=Debian-exim
readonly AUTH_USER=smtptest
readonly AUTH_PASSWORD=interop-secret
readonly CONF="$BASE/exim.conf"
readonly PIDFILE="$BASE/exim.pid"
readonly BIN="$BASE/pkg/root/usr/sbin/exim4"
readonly MAILDIR="$BASE/maildir"
readonly TLS_DIR="$BASE/tls"
readonly LOGDIR="$BASE/log"
readonly LOG_FILES=("$LOGDIR/mainlog" "$LOGDIR/paniclog")

running() { live_pid "$PIDFILE" >/dev/null; }

ready() {
  greets_on "$PORT" && greets_on "$DATA_PORT" && greets_tls_on "$TLS_PORT" "$TLS_DIR/ca.pem"
}

print_env() {
  printf 'EFFECT_SMTP_EXIM=%s:%s\n' "$HOST" "$PORT"
  printf 'EFFECT_SMTP_EXIM_DATA=%s:%s\n' "$HOST" "$DATA_PORT"
  printf 'EFFECT_SMTP_EXIM_TLS=%s:%s\n' "$HOST" "$TLS_PORT"
  printf 'EFFECT_SMTP_EXIM_MAILDIR=%s\n' "$MAILDIR"
  printf 'EFFECT_SMTP_EXIM_CA=%s\n' "$TLS_DIR/ca.pem"
  printf 'EFFECT_SMTP_EXIM_LOG=%s\n' "$LOGDIR/mainlog"
}

preflight() {
  require_root "it unpacks a Debian package and runs an Exim daemon"
  check_port EFFECT_SMTP_EXIM_PORT "$PORT"
  ((TLS_PORT <= 65535)) || die "EFFECT_SMTP_EXIM_PORT must leave room for two more ports"
  check_seconds EFFECT_SMTP_EXIM_WAIT "$WAIT"
  require_command apt-get "apt-get is needed to fetch exim4-daemon-light"
}

write_config() {
  local group
  group="$(id -gn "$EXIM_USER")"
  install -d -m 0755 "$BASE"
  install -d -o "$EXIM_USER" -g "$group" -m 0750 "$BASE/spool" "$LOGDIR"
  install -d -o "$EXIM_USER" -g "$group" -m 0750 "$MAILDIR" "$MAILDIR/new" "$MAILDIR/cur" "$MAILDIR/tmp"
  # Exim reads the key after it dropped to its own user.
  chown "$EXIM_USER:$group" "$TLS_DIR/server.key"

  # Exim's configuration syntax: `$` starts an expansion, so the shell writes
  # only the paths; everything else is quoted.
  cat >"$CONF.new" <<CONF
# Written by scripts/services/exim.sh; rewritten on every start.
exim_path = $BIN
spool_directory = $BASE/spool
log_file_path = $LOGDIR/%slog
pid_file_path = $PIDFILE
tls_certificate = $TLS_DIR/chain.pem
tls_privatekey = $TLS_DIR/server.key
daemon_smtp_ports = $PORT : $DATA_PORT : $TLS_PORT
local_interfaces = $HOST
tls_on_connect_ports = $TLS_PORT
CONF
  cat >>"$CONF.new" <<'CONF'
exim_user = Debian-exim
exim_group = Debian-exim
primary_hostname = localhost
qualify_domain = localhost
disable_ipv6 = true
keep_environment =
# Fast and quiet on loopback: no reverse lookups, no ident.
host_lookup =
rfc1413_hosts =
smtp_banner = $smtp_active_hostname ESMTP effect-smtp interop Exim $version_number
domainlist local_domains = localhost
message_size_limit = 64M
smtp_accept_max = 64
smtp_accept_queue_per_connection = 0
log_selector = +smtp_protocol_error +smtp_syntax_error +received_recipients +pipelining +smtp_connection

# The second listener hides CHUNKING, so a client uses DATA there.
chunking_advertise_hosts = ${if eq{$received_port}{__DATA_PORT__}{}{*}}
pipelining_advertise_hosts = *
dsn_advertise_hosts = *
smtputf8_advertise_hosts = *
accept_8bitmime = true
tls_advertise_hosts = *
# AUTH only over TLS, as a real submission server does.
auth_advertise_hosts = ${if def:tls_in_cipher {*}{}}

acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_rcpt:
  accept  domains = +local_domains
          local_parts = smtptest : sender : δοκιμή
  deny    domains = +local_domains
          message = 5.1.1 unknown user <$local_part@$domain>
  deny    message = 5.7.1 this test server relays nothing

begin routers
maildir_user:
  driver = accept
  domains = +local_domains
  local_parts = smtptest : sender : δοκιμή
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = __MAILDIR__
  maildir_format
  delivery_date_add
  envelope_to_add
  return_path_add
  user = Debian-exim
  mode = 0640

begin retry
*  *  F,1m,10s

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = ${if and {{eq{$auth2}{__USER__}}{eq{$auth3}{__PASSWORD__}}}}
  server_set_id = $auth2
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = ${if and {{eq{$auth1}{__USER__}}{eq{$auth2}{__PASSWORD__}}}}
  server_set_id = $auth1
CONF
  sed -i -e "s|__DATA_PORT__|$DATA_PORT|g" -e "s|__MAILDIR__|$MAILDIR|g" \
    -e "s|__USER__|$AUTH_USER|g" -e "s|__PASSWORD__|$AUTH_PASSWORD|g" "$CONF.new"
  mv -f "$CONF.new" "$CONF"
}

cmd_start() {
  preflight
  # Exim's compiled-in user: the binary looks it up before it reads any configuration.
  ensure_system_user "$EXIM_USER"
  unpack_debs "$BASE/pkg" exim4-daemon-light
  [[ -x $BIN ]] || die "$BIN is missing after unpacking exim4-daemon-light"
  if ! "$BIN" -C /dev/null -bV >/dev/null 2>"$BASE/bv.err"; then
    grep -q "cannot open shared object" "$BASE/bv.err" &&
      die "$(cat "$BASE/bv.err"); install it (apt-get install libidn12; .ci/apt-packages lists it)"
  fi
  make_certs "$TLS_DIR"
  write_config
  "$BIN" -C "$CONF" -bV >/dev/null 2>"$BASE/bv.err" || { cat "$BASE/bv.err" >&2; die "Exim refuses $CONF"; }
  if running; then
    log "running (pid $(<"$PIDFILE")); restarting it with the configuration just written"
    stop_pid "$PIDFILE" "$WAIT"
  fi
  ensure_ports_free EFFECT_SMTP_EXIM_PORT "$PORT" "$DATA_PORT" "$TLS_PORT"
  log "starting Exim $("$BIN" -C "$CONF" -bV 2>/dev/null | sed -n 's/^Exim version \([^ ]*\).*/\1/p') on $HOST:$PORT (CHUNKING), :$DATA_PORT (DATA), :$TLS_PORT (implicit TLS)"
  "$BIN" -C "$CONF" -bd -q10s 2>>"$LOGDIR/start.err" || { show_log "${LOG_FILES[@]}"; die "exim -bd failed: $(tail -n 5 "$LOGDIR/start.err")"; }
  # Exim writes its pid file from the daemon it forks: only the greeting tells.
  await_ready "no 220 greeting on $HOST:$PORT, :$DATA_PORT and :$TLS_PORT"
  log "ready: mail for smtptest@localhost lands in $MAILDIR/new; logs in $LOGDIR"
  print_env
}

cmd_stop() { stop_daemon "$PIDFILE" "$PORT" "$DATA_PORT" "$TLS_PORT"; }

service_main "$@"
