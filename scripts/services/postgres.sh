#!/usr/bin/env bash
# A private PostgreSQL instance for the outbox's multi-runner tests
# (packages/outbox/test/cluster.test.ts).
#
#   scripts/services/postgres.sh start    initialise (once), start, wait until it accepts connections
#   scripts/services/postgres.sh stop     stop the instance (its data stays for the next start)
#   scripts/services/postgres.sh status   exit 0 when it is running and answers, 3 otherwise
#   scripts/services/postgres.sh log      the last 50 lines of the instance's log
#
# It never touches a system PostgreSQL (/etc/postgresql, /var/lib/postgresql,
# port 5432): the instance has its own data directory, configuration and
# socket directory, started with pg_ctl as the `postgres` user. It listens on
# 127.0.0.1 only. The role `effect_smtp` (password `effect_smtp`, allowed to
# create databases: each test run makes its own) owns the database
# `effect_smtp`. Needs root and the Debian `postgresql` package (`.ci/run`
# installs it).
#
# `start` and `status` print the test environment on stdout, one KEY=VALUE per
# line; everything else goes to stderr:
#   EFFECT_SMTP_POSTGRES_URL=postgres://effect_smtp:effect_smtp@127.0.0.1:55432/effect_smtp
#
# Knobs: EFFECT_SMTP_POSTGRES_PORT (55432), EFFECT_SMTP_POSTGRES_DIR
# (/var/lib/effect-smtp-postgres/<port>), EFFECT_SMTP_POSTGRES_WAIT (30 seconds).
set -euo pipefail

SERVICE=postgres-test
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/service.sh"

readonly PORT="${EFFECT_SMTP_POSTGRES_PORT:-55432}"
readonly BASE="${EFFECT_SMTP_POSTGRES_DIR:-/var/lib/effect-smtp-postgres/${PORT}}"
readonly WAIT="${EFFECT_SMTP_POSTGRES_WAIT:-30}"
readonly DATA="$BASE/data"
readonly SOCKETS="$BASE/run"
readonly LOG="$BASE/postgres.log"
readonly LOG_FILES=("$LOG")
readonly OWNER=postgres
readonly ROLE=effect_smtp
readonly PASSWORD=effect_smtp
readonly DATABASE=effect_smtp

# The newest server Debian installed: /usr/lib/postgresql/<major>/bin.
bindir() {
  local dir
  dir="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  [[ -n $dir && -x $dir/pg_ctl ]] || return 1
  printf '%s' "$dir"
}

as_owner() {
  if [[ $(id -u) == 0 ]]; then
    runuser -u "$OWNER" -- "$@"
  else
    "$@"
  fi
}

pg_ctl_() { as_owner "$(bindir)/pg_ctl" -D "$DATA" "$@"; }

# As the owner over the private socket: no password, no network.
psql_() { as_owner psql -X -q -v ON_ERROR_STOP=1 -h "$SOCKETS" -p "$PORT" -d postgres "$@"; }

url() { printf 'postgres://%s:%s@%s:%s/%s' "$ROLE" "$PASSWORD" "$HOST" "$PORT" "$DATABASE"; }

print_env() { printf 'EFFECT_SMTP_POSTGRES_URL=%s\n' "$(url)"; }

# Only root can ask pg_ctl as the owner.
running() {
  [[ $(id -u) == 0 ]] && bindir >/dev/null && [[ -f $DATA/postmaster.pid ]] && pg_ctl_ status >/dev/null 2>&1
}

ready() { as_owner "$(bindir)/pg_isready" -q -h "$HOST" -p "$PORT" -t 3 >/dev/null 2>&1; }

preflight() {
  require_root "it runs PostgreSQL as the $OWNER user in $BASE"
  bindir >/dev/null || die "PostgreSQL is not installed. On Debian/Ubuntu: apt-get install -y postgresql (no system service needs to run)"
  require_command psql "psql is not installed (Debian: postgresql-client)"
  getent passwd "$OWNER" >/dev/null || die "the system user $OWNER is missing (Debian's postgresql-common creates it)"
  check_port EFFECT_SMTP_POSTGRES_PORT "$PORT"
  check_seconds EFFECT_SMTP_POSTGRES_WAIT "$WAIT"
}

initialise() {
  install -d -m 0755 "$BASE"
  install -d -o "$OWNER" -g "$(id -gn "$OWNER")" -m 0700 "$DATA"
  install -d -o "$OWNER" -g "$(id -gn "$OWNER")" -m 0755 "$SOCKETS"
  touch "$LOG" && chown "$OWNER" "$LOG"
  if [[ ! -f $DATA/PG_VERSION ]]; then
    log "initialising a cluster in $DATA"
    as_owner "$(bindir)/initdb" -D "$DATA" -U "$OWNER" --auth-local=peer --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >&2 || die "initdb failed"
  fi
  # Rewritten on every start: only loopback, our own socket directory, and
  # enough connections for three runners and the tests.
  cat >"$DATA/postgresql.auto.conf" <<EOF
# Written by scripts/services/postgres.sh; rewritten on every start.
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = '$SOCKETS'
max_connections = 200
password_encryption = 'scram-sha-256'
logging_collector = off
EOF
  chown "$OWNER" "$DATA/postgresql.auto.conf"
  cat >"$DATA/pg_hba.conf" <<EOF
# Written by scripts/services/postgres.sh; rewritten on every start.
local all $OWNER peer
host  all $ROLE $HOST/32 scram-sha-256
EOF
  chown "$OWNER" "$DATA/pg_hba.conf"
}

ensure_role() {
  psql_ <<EOF
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  ELSE
    ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
END
\$\$;
EOF
  if [[ $(psql_ -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'") != 1 ]]; then
    psql_ -c "CREATE DATABASE $DATABASE OWNER $ROLE"
  fi
}

cmd_start() {
  preflight
  if running; then
    log "instance in $BASE is running"
  else
    ensure_ports_free EFFECT_SMTP_POSTGRES_PORT "$PORT"
    initialise
    log "starting PostgreSQL on $HOST:$PORT"
    pg_ctl_ -l "$LOG" -w -t "$WAIT" start >&2 || { show_log "$LOG"; die "pg_ctl start failed"; }
  fi
  await_ready "no answer on $HOST:$PORT"
  ensure_role >&2 || { show_log "$LOG"; die "could not create the role $ROLE and database $DATABASE"; }
  log "ready: $(url | sed 's/:[^:@]*@/:***@/'); log: $LOG"
  print_env
}

cmd_stop() {
  preflight
  if running; then
    log "stopping the instance in $BASE"
    pg_ctl_ -m fast -w -t "$WAIT" stop >&2 || { show_log "$LOG"; die "pg_ctl stop failed"; }
  else
    log "not running (instance dir $BASE)"
  fi
}

service_main "$@"
