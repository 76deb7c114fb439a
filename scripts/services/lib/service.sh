# shellcheck shell=bash
# The one library of the private test services (scripts/services/*.sh).
# Sourced, never run: it lives in lib/ so that .ci/run, which starts
# scripts/services/*.sh, does not take it for a service.
#
# Conventions every service keeps: it runs on 127.0.0.1 only; `start` prints
# the test environment on stdout, one KEY=VALUE per line, and everything a
# person reads goes to stderr; `status` exits 3 when the service is not up;
# `start` fails (exit 1) when the server cannot be made to answer, so that CI
# stops instead of the tests skipping.
#
# The script sets SERVICE (its name in messages) before sourcing this file,
# then BASE (its state directory), WAIT (seconds to wait for start and stop)
# and LOG_FILES (an array: what `log` prints and a failed start shows), and
# defines
#   print_env   the KEY=VALUE lines
#   running     its processes are alive
#   ready       it answers (a greeting, a query)
#   cmd_start, cmd_stop
# and ends with `service_main "$@"`. cmd_status and cmd_log below serve every
# script as they are.

: "${SERVICE:?set SERVICE (the name in messages) before sourcing lib/service.sh}"

# Daemons and their tools live in /usr/sbin, not always on a non-login PATH.
PATH="$PATH:/usr/sbin:/sbin"

# Every service listens on loopback only.
readonly HOST=127.0.0.1

# The command being run (start, stop, ...), for messages that say how to retry.
COMMAND=""

log() { printf '%s: %s\n' "$SERVICE" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# --- Checks of the environment ------------------------------------------------

# require_root WHY: stops unless run as root.
require_root() {
  [[ $(id -u) == 0 ]] || die "needs root ($1); try: sudo $0 ${COMMAND:-start}"
}

# require_command COMMAND MESSAGE: stops with MESSAGE (how to install it) when
# COMMAND is not on PATH.
require_command() {
  command -v "$1" >/dev/null 2>&1 || die "$2"
}

# check_port KNOB VALUE: the environment's knob KNOB must be a TCP port number.
check_port() {
  local name=$1 value=$2
  if ! [[ $value =~ ^[1-9][0-9]*$ ]] || ((value > 65535)); then
    die "$name must be a TCP port number, got '$value'"
  fi
}

# check_seconds KNOB VALUE: the environment's knob KNOB must be a number of seconds.
check_seconds() {
  [[ $2 =~ ^[0-9]+$ ]] || die "$1 must be a number of seconds, got '$2'"
}

# --- Probes -------------------------------------------------------------------

# Something accepts TCP connections on HOST:$1.
listening_on() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# Something accepts TCP connections on one of the ports given.
any_listening() {
  local port
  for port in "$@"; do
    listening_on "$port" && return 0
  done
  return 1
}

# ensure_ports_free KNOBS PORT...: stops when another program holds one of the
# ports (KNOBS names the variables that choose other ports).
ensure_ports_free() {
  local knobs=$1 port
  shift
  for port in "$@"; do
    listening_on "$port" && die "$HOST:$port is already in use by another program; choose other ports with $knobs"
  done
  return 0
}

# Something on HOST:$1 answers with a 220 greeting; the read is bounded so a
# silent listener cannot hang us.
greets_on() {
  (
    exec 3<>"/dev/tcp/$HOST/$1" || exit 1
    IFS= read -r -t 5 line <&3 || exit 1
    printf 'QUIT\r\n' >&3 || true
    [[ $line == 220* ]]
  ) 2>/dev/null
}

# HOST:$1 completes a TLS handshake and then greets with 220 (an implicit-TLS
# port), trusting the CA file $2.
greets_tls_on() {
  # A subshell of its own: the coprocess, and the ignored SIGPIPE (openssl
  # may be gone when QUIT is written), stay in it.
  (
    trap '' PIPE
    # The greeting is read before QUIT is written: a server may refuse input
    # sent ahead of its greeting (Exim does).
    coproc PROBE { exec timeout 5 openssl s_client -quiet -connect "$HOST:$1" -CAfile "$2" -verify_return_error 2>/dev/null; }
    line=""
    IFS= read -r -t 5 line <&"${PROBE[0]}" || true
    printf 'QUIT\r\n' >&"${PROBE[1]}" || true
    kill "$PROBE_PID" 2>/dev/null || true
    [[ $line == 220* ]]
  ) 2>/dev/null
}

# not COMMAND...: succeeds when COMMAND fails (for wait_for).
not() { ! "$@"; }

# wait_for SECONDS COMMAND...: retries COMMAND until it succeeds (0) or
# SECONDS have passed (1).
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# await_ready WHAT [PIDFILE]: waits up to WAIT seconds for `ready`; when it
# does not come, shows the logs and stops with "WHAT within WAIT s". With
# PIDFILE, a server that exits during start-up fails at once.
await_ready() {
  local what=$1 pidfile=${2:-}
  wait_for "$WAIT" ready_while_alive "$pidfile" || {
    show_log "${LOG_FILES[@]}"
    die "$what within ${WAIT}s"
  }
}

ready_while_alive() {
  if [[ -n $1 ]] && ! live_pid "$1" >/dev/null; then
    show_log "${LOG_FILES[@]}"
    die "the server exited during start-up"
  fi
  ready
}

# --- Processes ----------------------------------------------------------------

# live_pid FILE: prints the pid in FILE when that process is alive; fails otherwise.
live_pid() {
  local pid
  [[ -r $1 ]] || return 1
  pid="$(tr -dc '0-9' <"$1")"
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && printf '%s' "$pid"
}

# spawn PIDFILE LOGFILE COMMAND...: runs COMMAND in the background, in a
# session of its own (CI's process group and terminal are not its own), with
# its output appended to LOGFILE, and records its pid.
spawn() {
  local pidfile=$1 logfile=$2
  shift 2
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  printf '%s\n' "$!" >"$pidfile"
}

# stop_pid PIDFILE SECONDS: TERM, wait, then KILL; the pid file is removed.
stop_pid() {
  local file=$1 seconds=$2 pid deadline
  pid="$(live_pid "$file")" || {
    rm -f "$file"
    return 0
  }
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + seconds))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "pid $pid did not stop within ${seconds}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$file"
}

# stop_daemon PIDFILE PORT...: the `stop` of a server this script spawned: its
# process stops (stop_pid) and its ports close within WAIT seconds.
stop_daemon() {
  local pidfile=$1 pid
  shift
  if pid="$(live_pid "$pidfile")"; then
    log "stopping pid $pid (state in $BASE)"
    stop_pid "$pidfile" "$WAIT"
    wait_for "$WAIT" not any_listening "$@" || die "a port of $HOST:$* still answers ${WAIT}s after stop"
  else
    log "not running (state in $BASE)"
  fi
}

# with_tty COMMAND...: runs COMMAND with a pseudo-terminal on its output, the
# output on stderr. Postfix commands report fatal errors to syslog, or to
# stderr only when stderr is a terminal; without syslog (containers, CI) a
# failure would be silent, and `script` supplies the terminal.
with_tty() {
  if command -v script >/dev/null 2>&1; then
    local cmd
    printf -v cmd '%q ' "$@"
    script -qec "$cmd" /dev/null >&2
  else
    "$@" >&2
  fi
}

# ensure_system_user USER [HOME]: creates the system user USER (with a group of
# its name, no login shell, HOME not created; /nonexistent by default) when it
# does not exist.
ensure_system_user() {
  local user=$1 home=${2:-/nonexistent}
  if ! getent passwd "$user" >/dev/null; then
    log "creating system user $user"
    useradd --system --user-group --home-dir "$home" --no-create-home --shell /usr/sbin/nologin "$user"
  fi
}

# --- Files --------------------------------------------------------------------

# unpack_debs DIR PACKAGE...: the packages' files under DIR/root, taken with
# `apt-get download` + `dpkg -x` (Debian's MTA packages conflict with each
# other and with Postfix, so none is installed). Done once per candidate
# version: DIR/stamp records what was unpacked.
unpack_debs() {
  local dir=$1
  shift
  local wanted="" package version
  for package in "$@"; do
    version="$(apt-cache policy "$package" 2>/dev/null | sed -n 's/^ *Candidate: //p')"
    if [[ -z $version || $version == "(none)" ]]; then
      log "apt knows no candidate for $package; running apt-get update once"
      apt-get update >&2 || die "apt-get update failed"
      version="$(apt-cache policy "$package" 2>/dev/null | sed -n 's/^ *Candidate: //p')"
      [[ -n $version && $version != "(none)" ]] || die "Debian package $package is not available from apt"
    fi
    wanted+="$package=$version "
  done
  wanted="${wanted% }"
  if [[ -f $dir/stamp && $(<"$dir/stamp") == "$wanted" && -d $dir/root ]]; then
    return 0
  fi
  log "unpacking $wanted into $dir/root (apt-get download + dpkg -x; nothing is installed)"
  rm -rf "$dir/debs" "$dir/root"
  install -d -m 0755 "$dir/debs" "$dir/root"
  # _apt cannot write into a private root-owned directory; the warning that
  # apt then prints about an unsandboxed download is expected. A failure is
  # most often stale package lists (the candidate left the mirror): update
  # them once and try again.
  if ! (cd "$dir/debs" && apt-get download "$@" >&2); then
    log "apt-get download failed; running apt-get update once and retrying"
    apt-get update >&2 || die "apt-get update failed"
    (cd "$dir/debs" && apt-get download "$@" >&2) || die "apt-get download $* failed"
  fi
  local deb
  for deb in "$dir"/debs/*.deb; do
    dpkg -x "$deb" "$dir/root" || die "dpkg -x $deb failed"
  done
  printf '%s' "$wanted" >"$dir/stamp"
}

# make_certs DIR: a private CA (DIR/ca.pem) and a server key and certificate
# it signed for localhost and 127.0.0.1 (DIR/server.key, DIR/server.pem, and
# DIR/chain.pem = server + CA). Made with the openssl CLI at the first start,
# and again when the certificate has less than a day left; kept otherwise, so
# a test run can read the CA while its server restarts.
make_certs() {
  local dir=$1
  if [[ -f $dir/server.pem && -f $dir/ca.pem && -f $dir/server.key ]] &&
    openssl x509 -checkend 86400 -noout -in "$dir/server.pem" >/dev/null 2>&1; then
    return 0
  fi
  require_command openssl "the openssl command is needed to make the test certificates (apt-get install openssl)"
  log "making a private CA and a server certificate for localhost in $dir"
  install -d -m 0755 "$dir"
  local work
  work="$(mktemp -d)"
  (
    set -e
    cd "$work"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj "/CN=effect-smtp interop CA ($SERVICE)" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout ca.key -out ca.pem
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" -keyout server.key -out server.csr
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days 30 \
      -extfile server.ext -out server.pem
    cat server.pem ca.pem >chain.pem
  ) >/dev/null 2>"$work/openssl.log" || {
    cat "$work/openssl.log" >&2
    rm -rf "$work"
    die "openssl could not make the test certificates"
  }
  install -m 0644 "$work/ca.pem" "$work/server.pem" "$work/chain.pem" "$dir/"
  install -m 0600 "$work/server.key" "$dir/"
  rm -rf "$work"
}

# show_log FILE...: the last lines of each non-empty FILE on stderr (when a
# start fails).
show_log() {
  local file
  for file in "$@"; do
    [[ -s $file ]] || continue
    log "last lines of $file:"
    tail -n 20 "$file" >&2 || true
  done
}

# print_logs FILE...: the last 50 lines of each readable FILE on stdout, each
# under a `== FILE` line; fails when none is readable.
print_logs() {
  local file found=false
  for file in "$@"; do
    [[ -r $file ]] || continue
    found=true
    printf '== %s\n' "$file"
    tail -n 50 "$file"
  done
  $found || die "no readable log at $*"
}

# --- Commands -----------------------------------------------------------------

# status: the environment when the service runs and answers, exit 3 otherwise.
cmd_status() {
  if running && ready; then
    log "running (state in $BASE)"
    print_env
  else
    log "not running (state in $BASE)"
    exit 3
  fi
}

cmd_log() {
  print_logs "${LOG_FILES[@]}"
}

service_main() {
  COMMAND="${1:-}"
  case "$COMMAND" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    log) cmd_log ;;
    *)
      printf 'usage: %s start|stop|status|log\n' "$0" >&2
      exit 2
      ;;
  esac
}

# --- A pair of proxies ---------------------------------------------------------
# dante.sh and tinyproxy.sh each run two instances of one daemon: `open` on
# OPEN_PORT (no authentication) and `auth` on AUTH_PORT. The script sets those
# two and PORT_KNOBS (the variables that choose them: "OPEN_KNOB / AUTH_KNOB"),
# and defines:
#   pid_file_of NAME   where its pid is written
#   log_file_of NAME   its log
#   launch NAME        writes its configuration and starts it (daemonizing)
# Its running and ready are then instances_running and instances_ready.

readonly INSTANCES=(open auth)

# port_of NAME: the port of instance NAME.
port_of() { if [[ $1 == open ]]; then printf '%s' "$OPEN_PORT"; else printf '%s' "$AUTH_PORT"; fi; }

# The knobs of PORT_KNOBS hold two different port numbers.
check_instance_ports() {
  local open_knob=${PORT_KNOBS% / *} auth_knob=${PORT_KNOBS#* / }
  check_port "$open_knob" "$OPEN_PORT"
  check_port "$auth_knob" "$AUTH_PORT"
  [[ $OPEN_PORT != "$AUTH_PORT" ]] || die "$open_knob and $auth_knob must differ"
}

instances_running() {
  local name
  for name in "${INSTANCES[@]}"; do
    live_pid "$(pid_file_of "$name")" >/dev/null || return 1
  done
}

instances_ready() {
  local name
  for name in "${INSTANCES[@]}"; do
    listening_on "$(port_of "$name")" || return 1
  done
}

start_instances() {
  local name port
  for name in "${INSTANCES[@]}"; do
    port="$(port_of "$name")"
    if live_pid "$(pid_file_of "$name")" >/dev/null; then
      log "$name instance (port $port) is running"
      continue
    fi
    ensure_ports_free "$PORT_KNOBS" "$port"
    log "starting the $name instance on $HOST:$port"
    launch "$name" >&2 || {
      show_log "$(log_file_of "$name")"
      die "the $name instance failed to start"
    }
    wait_for "$WAIT" listening_on "$port" || {
      show_log "$(log_file_of "$name")"
      die "the $name instance does not accept connections on $HOST:$port within ${WAIT}s"
    }
  done
}

stop_instances() {
  local name
  for name in "${INSTANCES[@]}"; do
    if live_pid "$(pid_file_of "$name")" >/dev/null; then
      log "stopping the $name instance"
      stop_pid "$(pid_file_of "$name")" "$WAIT"
      wait_for "$WAIT" not listening_on "$(port_of "$name")" || die "$HOST:$(port_of "$name") still answers after stop"
    else
      log "$name instance not running"
    fi
  done
}
