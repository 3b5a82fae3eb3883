# Shared helpers for the local platform scripts. Sourced, never run.
# Every component keeps its pid, log and data under .run/ (git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="${SLUICE_RUN_DIR:-$ROOT/.run}"
# The local platform is development: Sluice processes default to production's rules otherwise.
export SLUICE_ENV="${SLUICE_ENV:-development}"
LOG_DIR="$RUN_DIR/logs"
PID_DIR="$RUN_DIR/pids"
mkdir -p "$LOG_DIR" "$PID_DIR"

log() { printf '\033[1m[%s]\033[0m %s\n' "${COMPONENT:-sluice}" "$*" >&2; }
die() { printf '\033[31m[%s] error:\033[0m %s\n' "${COMPONENT:-sluice}" "$*" >&2; exit 1; }

# java_bin prints a Java 17+ binary: JAVA_HOME first, then the one on PATH.
java_bin() {
  local j="${JAVA_HOME:+$JAVA_HOME/bin/}java"
  command -v "$j" >/dev/null 2>&1 || die "no java found; install a JDK 17 or newer (Debian: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME"
  local major
  major=$("$j" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
  [ "${major%%.*}" -ge 17 ] 2>/dev/null || die "$j is Java $major; Sluice's Kafka and registry need Java 17 or newer (set JAVA_HOME)"
  echo "$j"
}

require_mvn() {
  command -v mvn >/dev/null 2>&1 || die "no mvn found; install Apache Maven (Debian: apt-get install maven)"
}

# pid_alive NAME: true when .run/pids/NAME.pid names a live process.
pid_alive() {
  local f="$PID_DIR/$1.pid"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# stop_pid NAME [SECONDS]: SIGTERM, wait, then SIGKILL. Idempotent.
stop_pid() {
  local name=$1 grace=${2:-20} f="$PID_DIR/$1.pid" pid
  if ! pid_alive "$name"; then rm -f "$f"; log "$name is not running"; return 0; fi
  pid=$(cat "$f")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((grace * 10))); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$f"; log "$name stopped"; return 0; }
    sleep 0.1
  done
  log "$name did not stop within ${grace}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$f"
}

# wait_until SECONDS DESCRIPTION HINT CMD...: polls CMD every 0.5s.
wait_until() {
  local timeout=$1 what=$2 hint=$3; shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      die "$what not ready after ${timeout}s. $hint"
    fi
    sleep 0.5
  done
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# spawn NAME LOGFILE CMD...: starts CMD detached from this shell, records its pid.
spawn() {
  local name=$1 logfile=$2; shift 2
  nohup setsid "$@" >>"$logfile" 2>&1 < /dev/null &
  echo $! > "$PID_DIR/$name.pid"
}
