#!/usr/bin/env bash
# The Debezium harness: the real embedded engine with the PostgreSQL connector and the Outbox Event
# Router, producing to Kafka with the Java client (a minimal Debezium Server). Sluice's parity test
# and relay benchmark run it next to the relay on the same outbox table.
#   deploy/debezium/debezium.sh build   compile it and copy its jars into .run/debezium; a no-op when
#                                       the pom, the sources and this script are unchanged
#   deploy/debezium/debezium.sh run     build when needed, then run it in the foreground (the JVM
#                                       replaces this shell, so signals reach it)
# `run` reads its configuration from the environment (DB_*, SLOT_NAME, PUBLICATION_NAME, OUTBOX_TABLE,
# TOPIC_REPLACEMENT, KAFKA_BOOTSTRAP_SERVERS, OFFSET_FILE, STOP_AFTER_RECORDS, ...: see
# src/main/java/dev/sluice/debezium/Settings.java) and prints JSON lines on stdout; logs go to stderr.
# PRODUCER_<KEY>=value sets the producer's <key> (underscores become dots), which is how it reaches
# the secured broker: PRODUCER_SECURITY_PROTOCOL=SASL_SSL, PRODUCER_SASL_MECHANISM=SCRAM-SHA-512,
# PRODUCER_SASL_JAAS_CONFIG='org.apache.kafka.common.security.scram.ScramLoginModule required
# username="…" password="…";', PRODUCER_SSL_TRUSTSTORE_TYPE=PEM, PRODUCER_SSL_TRUSTSTORE_LOCATION=<ca.pem>.
# The tests and benchmarks (libs/testing startDebezium) set these from the admin's settings.
# HARNESS_JAVA_OPTS replaces the JVM options.
COMPONENT=debezium
source "$(dirname "$0")/../local/lib.sh"

HERE="$ROOT/deploy/debezium"
OUT="$RUN_DIR/debezium"
STAMP="$OUT/.build.sha"
MAVEN_LOG="$LOG_DIR/maven.log"

source_hash() {
  (
    cd "$HERE"
    find pom.xml debezium.sh src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  ) | sha256sum | cut -d' ' -f1
}

built() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$1" ] && [ -d "$OUT/target/classes/dev/sluice/debezium" ] && [ -d "$OUT/lib" ]
}

build() {
  mkdir -p "$OUT"
  local want; want=$(source_hash)
  built "$want" && return 0
  # Two test runs may build at once: the second waits, then finds the first one's build.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$OUT/.build.lock"
    flock 9
    built "$want" && return 0
  fi
  require_mvn
  java_bin >/dev/null
  log "building the harness into $OUT (the first build resolves Debezium from Maven Central; log: $MAVEN_LOG)"
  rm -rf "$OUT/target" "$OUT/lib" "$STAMP"
  local started=$SECONDS
  printf '\n== debezium harness build, %s\n' "$(date -Is)" >>"$MAVEN_LOG"
  if ! mvn -q -B -f "$HERE/pom.xml" -Dharness.out="$OUT" compile dependency:copy-dependencies >>"$MAVEN_LOG" 2>&1; then
    die "maven could not build the Debezium harness (check access to Maven Central); the end of $MAVEN_LOG:
$(tail -n 25 "$MAVEN_LOG")"
  fi
  echo "$want" >"$STAMP"
  log "built in $((SECONDS - started)) s"
}

run() {
  build
  local java; java=$(java_bin)
  # shellcheck disable=SC2086 # HARNESS_JAVA_OPTS is a list of options
  exec "$java" ${HARNESS_JAVA_OPTS:--Xms128m -Xmx1g -XX:+UseG1GC} -cp "$OUT/target/classes:$OUT/lib/*" dev.sluice.debezium.Main
}

case "${1:-}" in
  build) build ;;
  run) run ;;
  *) echo "usage: $0 build|run" >&2; exit 2 ;;
esac
