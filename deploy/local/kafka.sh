#!/usr/bin/env bash
# Apache Kafka, one KRaft node (broker + controller), from Maven Central's jars.
#   deploy/local/kafka.sh start|stop|status|reset
# KAFKA_PORT (9092) and KAFKA_CONTROLLER_PORT (9093) override the ports.
COMPONENT=kafka
source "$(dirname "$0")/lib.sh"

KAFKA_PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
HOME_DIR="$RUN_DIR/kafka"
LIB_DIR="$HOME_DIR/libs"
DATA_DIR="$HOME_DIR/data"
POM="$ROOT/deploy/local/kafka/pom.xml"
LOG="$LOG_DIR/kafka.log"

fetch_jars() {
  local stamp="$LIB_DIR/.pom.sha"
  local want; want=$(sha256sum "$POM" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  require_mvn
  log "resolving Kafka jars from Maven Central (cached in ~/.m2 after the first time)"
  rm -rf "$LIB_DIR"; mkdir -p "$LIB_DIR"
  mvn -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$LIB_DIR" -DincludeScope=runtime >>"$LOG_DIR/maven.log" 2>&1 \
    || die "maven could not resolve the Kafka jars; see $LOG_DIR/maven.log and check access to Maven Central"
  echo "$want" > "$stamp"
}

configure() {
  mkdir -p "$HOME_DIR"
  sed -e "s#@DATA_DIR@#$DATA_DIR#" -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" \
    "$ROOT/deploy/local/kafka/server.properties" > "$HOME_DIR/server.properties"
  if [ ! -f "$DATA_DIR/meta.properties" ]; then
    local java cluster_id
    java=$(java_bin)
    cluster_id=$("$java" -cp "$LIB_DIR/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
    log "formatting storage in $DATA_DIR (cluster $cluster_id)"
    "$java" -cp "$LIB_DIR/*" -Dlog4j2.configurationFile="$ROOT/deploy/local/kafka/log4j2.yaml" \
      kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$HOME_DIR/server.properties" >>"$LOG" 2>&1 \
      || die "formatting Kafka storage failed; see $LOG"
  fi
}

healthy() {
  port_open 127.0.0.1 "$KAFKA_PORT" && grep -q "Kafka Server started" "$LOG"
}

start() {
  if pid_alive kafka; then
    healthy && { log "already running on 127.0.0.1:$KAFKA_PORT"; return 0; }
  elif port_open 127.0.0.1 "$KAFKA_PORT"; then
    # Another checkout's broker (or one started by hand) is as good as ours if it answers.
    if KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" node "$ROOT/dist/services/cli/src/main.js" probe kafka >/dev/null 2>&1; then
      log "using the Kafka broker already listening on 127.0.0.1:$KAFKA_PORT (not started from this checkout)"
      return 0
    fi
    die "port $KAFKA_PORT is taken by a process that is not a working Kafka broker (ss -ltnp 'sport = :$KAFKA_PORT'); stop it or set KAFKA_PORT"
  else
    fetch_jars
    configure
    local java; java=$(java_bin)
    : >"$LOG"
    log "starting broker on 127.0.0.1:$KAFKA_PORT (log: $LOG)"
    spawn kafka "$LOG" "$java" -Xms256m -Xmx${KAFKA_HEAP:-1g} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -Djava.awt.headless=true -Dlog4j2.configurationFile="$ROOT/deploy/local/kafka/log4j2.yaml" \
      -cp "$LIB_DIR/*" kafka.Kafka "$HOME_DIR/server.properties"
  fi
  wait_until "${KAFKA_START_TIMEOUT:-90}" "Kafka on 127.0.0.1:$KAFKA_PORT" \
    "Read $LOG; 'deploy/local/kafka.sh reset' wipes its data if the storage is damaged." \
    healthy_or_dead
  log "ready on 127.0.0.1:$KAFKA_PORT"
}

healthy_or_dead() {
  pid_alive kafka || die "the broker exited during start-up; last lines of $LOG:
$(tail -n 20 "$LOG")"
  healthy
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid kafka 30 ;;
  status) if pid_alive kafka && healthy; then log "running (pid $(cat "$PID_DIR/kafka.pid"))"; else log "not running"; exit 1; fi ;;
  reset) stop_pid kafka 30; rm -rf "$DATA_DIR"; log "data wiped" ;;
  *) echo "usage: $0 start|stop|status|reset" >&2; exit 2 ;;
esac
