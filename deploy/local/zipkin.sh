#!/usr/bin/env bash
# Zipkin, the local trace store: the services' spans (TRACING_EXPORTER=zipkin) are kept in memory and
# browsed at http://127.0.0.1:9411/zipkin/ (docs/tracing.md).
#   deploy/local/zipkin.sh install|start|stop|status
# `install` resolves Zipkin's server exec jar (io.zipkin:zipkin-server:$ZIPKIN_VERSION, classifier exec)
# from Maven Central into .run/zipkin (cached in ~/.m2 after the first time) and prints its path;
# `start` runs it with Java 17+ on ZIPKIN_LISTEN (127.0.0.1:9411), in-memory storage holding at most
# ZIPKIN_MAX_SPANS (500000) spans, its log in .run/logs/zipkin.log. Spans are gone when it stops.
# ZIPKIN_JAR_DIR (.run/zipkin) is where the jar is kept: tests with run directories of their own share one.
COMPONENT=zipkin
source "$(dirname "$0")/lib.sh"

ZIPKIN_VERSION=${ZIPKIN_VERSION:-3.6.1}
LISTEN=${ZIPKIN_LISTEN:-127.0.0.1:9411}
HOST=${LISTEN%:*}
PORT=${LISTEN##*:}
MAX_SPANS=${ZIPKIN_MAX_SPANS:-500000}
HOME_DIR="${ZIPKIN_JAR_DIR:-$RUN_DIR/zipkin}"
JAR="$HOME_DIR/zipkin-server-$ZIPKIN_VERSION-exec.jar"
LOG="$LOG_DIR/zipkin.log"
URL="http://$LISTEN"

install() {
  if [ ! -f "$JAR" ]; then
    require_mvn
    local artifact="io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec"
    log "resolving $artifact from Maven Central (cached in ~/.m2 after the first time)"
    mkdir -p "$HOME_DIR"
    mvn -B dependency:copy -Dartifact="$artifact" -DoutputDirectory="$HOME_DIR" >>"$LOG_DIR/maven.log" 2>&1 \
      || die "maven could not resolve $artifact; see $LOG_DIR/maven.log and check access to Maven Central"
  fi
  echo "$JAR"
}

# Zipkin answers /health with 200 once its storage (here memory) is up.
healthy() { curl -fsS "$URL/health" >/dev/null; }

healthy_or_dead() {
  pid_alive zipkin || die "zipkin exited during start-up; last lines of $LOG:
$(tail -n 20 "$LOG")" 2>&3
  healthy
}

start() {
  local java
  java=$(java_bin)
  install >/dev/null
  if pid_alive zipkin; then
    healthy && { log "already running on $URL"; return 0; }
  fi
  port_open "$HOST" "$PORT" && die "port $PORT is taken by a process Sluice did not start (ss -ltnp 'sport = :$PORT')"
  log "starting Zipkin $ZIPKIN_VERSION on $URL (in-memory storage, at most $MAX_SPANS spans; log $LOG)"
  # Bound to the one address given (Zipkin's default is every interface); the UI, the query API and
  # the collector's /api/v2/spans share the port.
  STORAGE_TYPE=mem MEM_MAX_SPANS="$MAX_SPANS" spawn zipkin "$LOG" "$java" -Xms64m -Xmx512m -XX:+ExitOnOutOfMemoryError -jar "$JAR" \
    --armeria.ports[0].ip="$HOST" --armeria.ports[0].port="$PORT" --armeria.ports[0].protocols=http
  exec 3>&2
  wait_until "${ZIPKIN_START_TIMEOUT:-60}" "Zipkin on $URL" "Read $LOG." healthy_or_dead
  log "ready on $URL/zipkin/ (spans in at $URL/api/v2/spans)"
}

status() {
  if pid_alive zipkin && healthy; then
    log "running on $URL/zipkin/ (pid $(cat "$PID_DIR/zipkin.pid"))"
  else
    log "not running"
    return 1
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop_pid zipkin 20 ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
