#!/usr/bin/env bash
# A private OpenSMTPD for the interop tests (packages/node/test/interop/opensmtpd.test.ts).
#
#   scripts/services/opensmtpd.sh start    unpack OpenSMTPD (once), configure, start, wait for the greeting
#   scripts/services/opensmtpd.sh stop     stop it (its files stay for the next start)
#   scripts/services/opensmtpd.sh status   exit 0 when it is running and greets, 3 otherwise
#   scripts/services/opensmtpd.sh log      the last lines of its log
#
# Debian's opensmtpd conflicts with the installed Postfix, so it is never
# installed: its files are taken with `apt-get download` + `dpkg -x` into
# $BASE/pkg. smtpd has its paths compiled in (/var/spool/smtpd,
# /usr/libexec/opensmtpd, /var/lib/opensmtpd/empty, /var/run/smtpd.sock), so
# it runs in a mount namespace of its own (`unshare --mount`) where
#   /var/spool   is $BASE/spool (its queue, and the Maildir),
#   /usr/libexec and /var/lib show the unpacked package over the system's
#                (read-only overlays),
#   /run         is an empty tmpfs (its control socket);
# nothing outside $BASE is written, and no system service is touched. The
# system users opensmtpd and opensmtpq (smtpd's privilege separation) and
# smtptest (who the Maildir belongs to) are created when missing.
#
# One listener, 127.0.0.1:PORT (2541), plaintext: Debian 12's OpenSMTPD 6.8
# fails every TLS handshake with OpenSSL 3 (an internal-error alert, whatever
# the key), so TLS_PORT (PORT + 1, 2542) is a STARTTLS listener kept only to
# show that failure (EFFECT_SMTP_OPENSMTPD_TLS). Mail for smtptest@localhost
# and sender@localhost goes to one Maildir; other recipients are refused at
# RCPT; nothing is relayed.
#
# `start` and `status` print the test environment on stdout:
#   EFFECT_SMTP_OPENSMTPD=127.0.0.1:2541
#   EFFECT_SMTP_OPENSMTPD_TLS=127.0.0.1:2542
#   EFFECT_SMTP_OPENSMTPD_MAILDIR=/var/lib/effect-smtp-opensmtpd/spool/maildir
#   EFFECT_SMTP_OPENSMTPD_CA=/var/lib/effect-smtp-opensmtpd/tls/ca.pem
#   EFFECT_SMTP_OPENSMTPD_LOG=/var/lib/effect-smtp-opensmtpd/smtpd.log
#
# Knobs: EFFECT_SMTP_OPENSMTPD_PORT (2541), EFFECT_SMTP_OPENSMTPD_DIR
# (/var/lib/effect-smtp-opensmtpd), EFFECT_SMTP_OPENSMTPD_WAIT (30).
set -euo pipefail

SERVICE=opensmtpd-test
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/service.sh"

readonly PORT="${EFFECT_SMTP_OPENSMTPD_PORT:-2541}"
readonly TLS_PORT=$((PORT + 1))
readonly BASE="${EFFECT_SMTP_OPENSMTPD_DIR:-/var/lib/effect-smtp-opensmtpd}"
readonly WAIT="${EFFECT_SMTP_OPENSMTPD_WAIT:-30}"
readonly MAIL_USER=smtptest
readonly PKG="$BASE/pkg/root"
readonly CONF="$BASE/smtpd.conf"
readonly PIDFILE="$BASE/smtpd.pid"
readonly LOG="$BASE/smtpd.log"
readonly LOG_FILES=("$LOG")
readonly TLS_DIR="$BASE/tls"
# The Maildir as smtpd sees it (inside its namespace) and as the tests see it.
readonly NS_MAILDIR=/var/spool/maildir
readonly MAILDIR="$BASE/spool/maildir"

running() { live_pid "$PIDFILE" >/dev/null; }

ready() {
  greets_on "$PORT" && greets_on "$TLS_PORT"
}

print_env() {
  printf 'EFFECT_SMTP_OPENSMTPD=%s:%s\n' "$HOST" "$PORT"
  printf 'EFFECT_SMTP_OPENSMTPD_TLS=%s:%s\n' "$HOST" "$TLS_PORT"
  printf 'EFFECT_SMTP_OPENSMTPD_MAILDIR=%s\n' "$MAILDIR"
  printf 'EFFECT_SMTP_OPENSMTPD_CA=%s\n' "$TLS_DIR/ca.pem"
  printf 'EFFECT_SMTP_OPENSMTPD_LOG=%s\n' "$LOG"
}

preflight() {
  require_root "it unpacks a Debian package and runs smtpd in a mount namespace"
  check_port EFFECT_SMTP_OPENSMTPD_PORT "$PORT"
  check_seconds EFFECT_SMTP_OPENSMTPD_WAIT "$WAIT"
  require_command unshare "unshare (util-linux) is needed to give smtpd its own /var/spool"
}

write_config() {
  install -d -m 0755 "$BASE" "$BASE/spool"
  install -d -o "$MAIL_USER" -g "$(id -gn "$MAIL_USER")" -m 0750 \
    "$MAILDIR" "$MAILDIR/new" "$MAILDIR/cur" "$MAILDIR/tmp"
  # Who may receive (a list: anyone else is refused at RCPT with 550), and
  # whose mail the Maildir's owner takes (a mapping).
  printf '%s\n' smtptest@localhost sender@localhost >"$BASE/recipients"
  printf '%s\n' "smtptest@localhost $MAIL_USER" "sender@localhost $MAIL_USER" >"$BASE/mailboxes"
  cat >"$CONF.new" <<CONF
# Written by scripts/services/opensmtpd.sh; rewritten on every start.
# Paths as smtpd sees them in its mount namespace (see the script).
pki localhost cert "$TLS_DIR/chain.pem"
pki localhost key "$TLS_DIR/server.key"
table recipients file:$BASE/recipients
table mailboxes file:$BASE/mailboxes

listen on $HOST port $PORT hostname localhost
listen on $HOST port $TLS_PORT hostname localhost tls pki localhost

action "maildir" maildir "$NS_MAILDIR" user $MAIL_USER virtual <mailboxes>
match from any for rcpt-to <recipients> action "maildir"
CONF
  mv -f "$CONF.new" "$CONF"
  # smtpd insists that the key is root's and private.
  chown root:root "$TLS_DIR/server.key"
  chmod 0600 "$TLS_DIR/server.key"
}

# Runs inside the new mount namespace (see the header), then becomes smtpd:
# -d keeps it in the foreground with its log on stderr, and the pid the
# caller recorded is smtpd's own.
namespace_main() {
  mount --make-rprivate /
  mount --bind "$BASE/spool" /var/spool
  mount -t overlay overlay -o "lowerdir=$PKG/usr/libexec:/usr/libexec" /usr/libexec
  # An overlay's layers may not lie inside its mount point, and $BASE is in
  # /var/lib: the extra layer is a tmpfs on /mnt.
  mount -t tmpfs -o mode=0755 tmpfs /mnt
  install -d -m 0755 /mnt/opensmtpd/empty
  mount -t overlay overlay -o "lowerdir=/mnt:/var/lib" /var/lib
  mount -t tmpfs -o mode=0755 tmpfs /run
  exec "$PKG/usr/sbin/smtpd" -d -f "$CONF"
}

cmd_start() {
  preflight
  ensure_system_user opensmtpd /var/lib/opensmtpd/empty
  ensure_system_user opensmtpq /var/lib/opensmtpd/empty
  ensure_system_user "$MAIL_USER" "/home/$MAIL_USER"
  unpack_debs "$BASE/pkg" opensmtpd
  [[ -x $PKG/usr/sbin/smtpd ]] || die "$PKG/usr/sbin/smtpd is missing after unpacking opensmtpd"
  make_certs "$TLS_DIR"
  write_config
  "$PKG/usr/sbin/smtpd" -n -f "$CONF" >/dev/null 2>"$BASE/check.err" || {
    cat "$BASE/check.err" >&2
    die "smtpd refuses $CONF"
  }
  if running; then
    log "running (pid $(<"$PIDFILE")); restarting it with the configuration just written"
    stop_pid "$PIDFILE" "$WAIT"
  fi
  ensure_ports_free EFFECT_SMTP_OPENSMTPD_PORT "$PORT" "$TLS_PORT"
  log "starting $("$PKG/usr/sbin/smtpd" -h 2>&1 | sed -n 's/^version: //Ip') on $HOST:$PORT (plaintext) and :$TLS_PORT (STARTTLS)"
  : >"$LOG"
  spawn "$PIDFILE" "$LOG" unshare --mount --propagation private "$0" __namespace
  await_ready "no 220 greeting on $HOST:$PORT and :$TLS_PORT" "$PIDFILE"
  log "ready: mail for smtptest@localhost lands in $MAILDIR/new; log: $LOG"
  print_env
}

cmd_stop() { stop_daemon "$PIDFILE" "$PORT" "$TLS_PORT"; }

if [[ ${1:-} == __namespace ]]; then
  namespace_main
fi
service_main "$@"
