# shellcheck shell=bash
# Shared by the scripts/services scripts of the interop servers (exim.sh,
# opensmtpd.sh, aiosmtpd.sh): logging, waiting for a greeting, taking a
# Debian package's files without installing it, a private CA, and the
# stop | status | log commands. Sourced, never run. The caller sets NAME (the
# log prefix), HOST, PORT, BASE, WAIT, PIDFILE and LOG_FILES (an array), and
# defines listening, greets, print_env and cmd_start; then it hands its
# arguments to service_main.
# Lives in lib/ so that .ci/run, which starts scripts/services/*.sh, does not
# take it for a service.

: "${NAME:?set NAME (the log prefix) before sourcing lib/private-server.sh}"

log() { printf '%s: %s\n' "$NAME" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Succeeds when HOST:$1 accepts a TCP connection.
listening_on() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# Succeeds when something on HOST:$1 answers with a 220 greeting; the read is
# bounded so a silent listener cannot hang us.
greets_on() {
  (
    exec 3<>"/dev/tcp/$HOST/$1" || exit 1
    IFS= read -r -t 3 line <&3 || exit 1
    printf 'QUIT\r\n' >&3 || true
    [[ $line == 220* ]]
  ) 2>/dev/null
}

# Succeeds when HOST:$1 completes a TLS handshake and then greets with 220
# (an implicit-TLS port), trusting the CA file $2.
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

# wait_for SECONDS COMMAND...: retries COMMAND every half second until it
# succeeds (0) or SECONDS have passed (1).
wait_for() {
  local seconds=$1
  shift
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

check_port() {
  local name=$1 value=$2
  if ! [[ $value =~ ^[1-9][0-9]*$ ]] || ((value > 65535)); then
    die "$name must be a TCP port number, got '$value'"
  fi
}

# A pid file names a live process.
pid_alive() {
  local pid
  [[ -r $1 ]] || return 1
  pid="$(tr -dc '0-9' <"$1")"
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

# stop_pid PIDFILE SECONDS: TERM, wait, then KILL; the pid file is removed.
stop_pid() {
  local file=$1 seconds=$2 pid
  pid_alive "$file" || { rm -f "$file"; return 0; }
  pid="$(tr -dc '0-9' <"$file")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + seconds))
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
# and again when the certificate has less than a day left.
make_certs() {
  local dir=$1
  if [[ -f $dir/server.pem && -f $dir/ca.pem && -f $dir/server.key ]] &&
    openssl x509 -checkend 86400 -noout -in "$dir/server.pem" >/dev/null 2>&1; then
    return 0
  fi
  log "making a private CA and a server certificate for localhost in $dir"
  install -d -m 0755 "$dir"
  local work
  work="$(mktemp -d)"
  (
    set -e
    cd "$work"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj "/CN=effect-smtp interop CA ($NAME)" \
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

# The server is running: its pid file names a live process.
running() {
  pid_alive "$PIDFILE"
}

show_log() {
  local file
  for file in "${LOG_FILES[@]}"; do
    [[ -s $file ]] || continue
    log "last lines of $file:"
    tail -n 20 "$file" >&2 || true
  done
}

# While waiting for the greeting: a server that already exited fails at once.
started() {
  running || { show_log; die "the server exited during start-up"; }
  greets
}

cmd_stop() {
  if running; then
    log "stopping pid $(<"$PIDFILE") (instance dir $BASE)"
    stop_pid "$PIDFILE" "$WAIT"
    wait_for "$WAIT" eval '! listening' || die "$HOST:$PORT still answers ${WAIT}s after stop"
  else
    log "not running (instance dir $BASE)"
  fi
}

cmd_status() {
  if running && greets; then
    log "running (pid $(<"$PIDFILE"), instance dir $BASE)"
    print_env
  else
    log "not running on $HOST:$PORT (instance dir $BASE)"
    exit 3
  fi
}

cmd_log() {
  local file
  for file in "${LOG_FILES[@]}"; do
    [[ -r $file ]] || continue
    printf '== %s\n' "$file"
    tail -n 50 "$file"
  done
}

service_main() {
  case "${1:-}" in
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
