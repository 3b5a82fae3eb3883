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

# apt_install WHAT PACKAGE...: installs the first of the Debian packages that installs, for WHAT (a
# tool named in messages). A package must not start its own service (nginx would take port 80,
# prometheus port 9090): a policy-rc.d that refuses service starts is in place for the install when
# the machine has none. Stale package lists are refreshed once per package.
apt_install() {
  local what=$1; shift
  command -v apt-get >/dev/null 2>&1 || die "$what is not installed and there is no apt-get here; install $* and put $what on PATH"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo -n true 2>/dev/null || die "$what is not installed; run 'sudo apt-get install -y --no-install-recommends $1' and try again"
    sudo="sudo -n"
  fi
  local policy=/usr/sbin/policy-rc.d made_policy="" ok="" pkg
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy" && made_policy=1
  fi
  log "installing $* (for $what) from the Debian packages (apt-get; log: $LOG_DIR/apt.log)"
  for pkg in "$@"; do
    if $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >>"$LOG_DIR/apt.log" 2>&1; then ok=1; break; fi
    $sudo apt-get update >>"$LOG_DIR/apt.log" 2>&1 || true
    if $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >>"$LOG_DIR/apt.log" 2>&1; then ok=1; break; fi
  done
  [ -n "$made_policy" ] && $sudo rm -f "$policy"
  [ -n "$ok" ] || die "apt-get could not install $*; see $LOG_DIR/apt.log"
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

# The Node.js release of .node-version (deploy/local/node.sh installs it when the node on PATH does
# not fit). A node fits when it is of the same major, at that release or later: one ABI for the
# native addons npm ci installed, and the fixes the pin was chosen for.
NODE_PIN=$(tr -d '[:space:]v' < "$ROOT/.node-version")
node_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo x64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) die "no Node.js build on the npm registry for $(uname -m); put Node.js $NODE_PIN on PATH" ;;
  esac
}
node_home() { echo "${SLUICE_NODE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/node}/v$NODE_PIN-linux-$(node_arch)"; }
# node_fits NODE: true when NODE runs and is of the pin's line, not older than the pin.
node_fits() {
  local v
  v=$("$1" -v 2>/dev/null) || return 1
  v=${v#v}
  [ "${v%%.*}" = "${NODE_PIN%%.*}" ] && [ "$(printf '%s\n%s\n' "$NODE_PIN" "$v" | sort -V | head -n 1)" = "$NODE_PIN" ]
}
# A script run by hand (not through make) runs its node on the pinned release too, once installed.
NODE_ON_PATH_FITS=""
if node_fits node; then
  NODE_ON_PATH_FITS=1
elif [ -x "$(node_home)/bin/node" ]; then
  PATH="$(node_home)/bin:$PATH"
  export PATH
fi
