#!/usr/bin/env bash
# Apache Kafka, one KRaft node (broker + controller), from Maven Central's jars.
#   deploy/local/kafka.sh start|stop|status|reset
# KAFKA_PORT (9092) and KAFKA_CONTROLLER_PORT (9093) override the ports.
#
# The broker is secured as in production: SASL_SSL only, SCRAM-SHA-512 users, ACLs
# (nothing allowed without one). Per checkout it generates, on first start:
#   .run/kafka/tls/              a CA, the broker's certificate for 127.0.0.1/localhost (ca.pem: clients' truststore)
#   .run/credentials/kafka-<principal>.password   a random password per principal (0600)
#   .run/credentials/kafka-<principal>.env        that principal's KAFKA_* client settings
#   .run/credentials/observer.properties          the read-only observer's settings in librdkafka keys
# Principals: admin (super user: topics, ACLs, tools, tests), broker (itself), and one per
# service plus observer, whose ACLs `sluice acls apply` sets.
COMPONENT=kafka
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kafka-lib.sh"

KAFKA_PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
HOME_DIR="$KAFKA_HOME_DIR"
DATA_DIR="$HOME_DIR/data"
LOG="$LOG_DIR/kafka.log"
SECURED_STAMP="$DATA_DIR/.sluice-sasl-ssl"

# Every principal's password, its client settings for this broker, and the observer's librdkafka file.
make_credentials() {
  make_passwords
  local p f
  for p in $PRINCIPALS; do
    f="$CRED_DIR/kafka-$p.password"
    (umask 077; printf '%s\n' \
      "KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT" \
      "KAFKA_SECURITY_PROTOCOL=SASL_SSL" \
      "KAFKA_SASL_MECHANISM=SCRAM-SHA-512" \
      "KAFKA_SASL_USERNAME=sluice-$p" \
      "KAFKA_SASL_PASSWORD_FILE=$f" \
      "KAFKA_SSL_CA_FILE=$TLS_DIR/ca.pem" > "$CRED_DIR/kafka-$p.env")
  done
  # librdkafka has no password-file setting: this file holds the password itself (0600).
  (umask 077; printf '%s\n' \
    "bootstrap.servers=127.0.0.1:$KAFKA_PORT" \
    "security.protocol=SASL_SSL" \
    "sasl.mechanisms=SCRAM-SHA-512" \
    "sasl.username=sluice-observer" \
    "sasl.password=$(cat "$CRED_DIR/kafka-observer.password")" \
    "ssl.ca.location=$TLS_DIR/ca.pem" > "$CRED_DIR/observer.properties")
}

configure() {
  (umask 077; mkdir -p "$HOME_DIR")
  if [ -f "$DATA_DIR/meta.properties" ] && [ ! -f "$SECURED_STAMP" ]; then
    die "$DATA_DIR holds a broker formatted without SCRAM users (plaintext, from before the broker was secured); 'deploy/local/kafka.sh reset' wipes it"
  fi
  make_tls
  make_credentials
  (umask 077; render_node_properties "$DATA_DIR" "$KAFKA_PORT" "$CONTROLLER_PORT" > "$HOME_DIR/server.properties")
  if [ ! -f "$DATA_DIR/meta.properties" ]; then
    local cluster_id; cluster_id=$(new_cluster_id)
    log "formatting storage in $DATA_DIR (cluster $cluster_id) with the SCRAM users sluice-{${PRINCIPALS// /,}}"
    format_storage "$HOME_DIR/server.properties" "$cluster_id" "$LOG" --standalone
    date -u +%FT%TZ > "$SECURED_STAMP"
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
    if [ -f "$CRED_DIR/kafka-admin.env" ] && env $(cat "$CRED_DIR/kafka-admin.env") KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" \
      node "$ROOT/dist/services/cli/src/main.js" probe kafka >/dev/null 2>&1; then
      log "using the Kafka broker already listening on 127.0.0.1:$KAFKA_PORT (not started from this checkout)"
      return 0
    fi
    die "port $KAFKA_PORT is taken by a process that is not a Kafka broker this checkout's admin credentials work with (ss -ltnp 'sport = :$KAFKA_PORT'); stop it or set KAFKA_PORT"
  else
    fetch_jars
    configure
    : >"$LOG"
    log "starting broker on 127.0.0.1:$KAFKA_PORT (log: $LOG)"
    launch_node kafka "$LOG" "$HOME_DIR/server.properties" "${KAFKA_HEAP:-1g}"
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
  # The SCRAM users live in the data: new passwords only take effect with new data.
  reset) stop_pid kafka 30; rm -rf "$DATA_DIR" "$CRED_DIR"/kafka-*.password; log "data and Kafka passwords wiped" ;;
  *) echo "usage: $0 start|stop|status|reset" >&2; exit 2 ;;
esac
