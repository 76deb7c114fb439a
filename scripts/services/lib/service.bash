# Helpers shared by the private test services of scripts/services/ (sourced,
# not run: .ci/run only starts scripts/services/*.sh). Each service script
# sets SERVICE (its name in messages) before sourcing this file.
#
# Conventions, as in postfix.sh: everything a person reads goes to stderr;
# stdout carries only the KEY=VALUE lines `start` and `status` print.

# Daemons and their tools live in /usr/sbin, not always on a non-login PATH.
PATH="$PATH:/usr/sbin:/sbin"

log() { printf '%s: %s\n' "$SERVICE" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# The environment's knob NAME must be a TCP port number.
check_port() {
  local name=$1 value=$2
  if ! [[ $value =~ ^[1-9][0-9]*$ ]] || ((value > 65535)); then
    die "$name must be a TCP port number, got '$value'"
  fi
}

# Something accepts TCP connections on 127.0.0.1:$1.
listening_on() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits up to $2 seconds for 127.0.0.1:$1 to accept connections.
wait_for_port() {
  local port=$1 wait=$2 deadline=$((SECONDS + $2))
  until listening_on "$port"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# Waits up to $2 seconds for 127.0.0.1:$1 to stop accepting connections.
wait_for_port_closed() {
  local port=$1 deadline=$((SECONDS + $2))
  while listening_on "$port"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# The pid in file $1, when that process is alive.
live_pid() {
  local pid
  [[ -r $1 ]] || return 1
  pid="$(tr -dc '0-9' <"$1")"
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && printf '%s' "$pid"
}

# Stops the process whose pid is in file $1 (TERM, then KILL after $2 seconds).
stop_pid() {
  local file=$1 wait=$2 pid deadline
  pid="$(live_pid "$file")" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + wait))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "process $pid did not stop within ${wait}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$file"
}

# Creates system user $1 (no login shell, no home) when it does not exist.
ensure_system_user() {
  if ! getent passwd "$1" >/dev/null; then
    log "creating system user $1"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$1"
  fi
}

# The last lines of log file $1 on stderr, when it exists.
show_log() {
  if [[ -r $1 ]]; then
    log "last lines of $1:"
    tail -n 20 "$1" >&2 || true
  fi
}

require_root() {
  [[ $(id -u) == 0 ]] || die "needs root ($1); try: sudo $0 ${2:-start}"
}

usage() {
  printf 'usage: %s start|stop|status|log\n' "$0" >&2
  exit 2
}

# --- Several instances of one daemon ------------------------------------------
# A script that runs instances sets INSTANCES (their names), WAIT (seconds) and
# PORT_KNOBS (the variables that choose the ports, for messages), and defines:
#   port_of NAME       its port on 127.0.0.1
#   pid_file_of NAME   where its pid is written
#   log_file_of NAME   its log
#   launch NAME        writes its configuration and starts it (daemonizing)

print_logs() {
  local file
  for file in "$@"; do
    [[ -r $file ]] || continue
    printf '== %s\n' "$file"
    tail -n 50 "$file"
  done
}

instances_running() {
  local name
  for name in "${INSTANCES[@]}"; do
    live_pid "$(pid_file_of "$name")" >/dev/null && listening_on "$(port_of "$name")" || return 1
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
    listening_on "$port" && die "127.0.0.1:$port is already in use by another program; choose other ports with $PORT_KNOBS"
    log "starting the $name instance on 127.0.0.1:$port"
    launch "$name" >&2 || {
      show_log "$(log_file_of "$name")"
      die "the $name instance failed to start"
    }
    wait_for_port "$port" "$WAIT" || {
      show_log "$(log_file_of "$name")"
      die "the $name instance does not accept connections on 127.0.0.1:$port within ${WAIT}s"
    }
  done
}

stop_instances() {
  local name
  for name in "${INSTANCES[@]}"; do
    if live_pid "$(pid_file_of "$name")" >/dev/null; then
      log "stopping the $name instance"
      stop_pid "$(pid_file_of "$name")" "$WAIT"
      wait_for_port_closed "$(port_of "$name")" "$WAIT" || die "127.0.0.1:$(port_of "$name") still answers after stop"
    else
      log "$name instance not running"
    fi
  done
}

# status: the environment when every instance runs, exit 3 otherwise.
status_instances() {
  if instances_running; then
    log "running (dir $BASE)"
    print_env
  else
    log "not running (dir $BASE)"
    exit 3
  fi
}

logs_of_instances() {
  local name files=()
  for name in "${INSTANCES[@]}"; do files+=("$(log_file_of "$name")"); done
  print_logs "${files[@]}"
}
