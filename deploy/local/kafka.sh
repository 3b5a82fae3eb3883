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

KAFKA_PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
HOME_DIR="$RUN_DIR/kafka"
LIB_DIR="$HOME_DIR/libs"
DATA_DIR="$HOME_DIR/data"
POM="$ROOT/deploy/local/kafka/pom.xml"
LOG="$LOG_DIR/kafka.log"
TLS_DIR="$HOME_DIR/tls"
CRED_DIR="$RUN_DIR/credentials"
PRINCIPALS="admin broker command-api outbox-relay projector bonus-service payments-worker observer"
SECURED_STAMP="$DATA_DIR/.sluice-sasl-ssl"

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

# The checkout's CA and the broker's certificate (its key and chain in one PEM keystore).
make_tls() {
  (umask 077; mkdir -p "$TLS_DIR")
  [ -f "$TLS_DIR/broker-keystore.pem" ] && return 0
  command -v openssl >/dev/null 2>&1 || die "no openssl found; install it (Debian: apt-get install openssl)"
  log "generating a CA and the broker certificate in $TLS_DIR"
  (
    umask 077
    cd "$TLS_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 825 -subj "/CN=Sluice local Kafka CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=sluice-kafka-broker" 2>/dev/null
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth" > broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 -extfile broker.ext -out broker.crt 2>/dev/null
    cat broker.key broker.crt > broker-keystore.pem
    rm -f broker.csr broker.ext
    chmod 644 ca.pem
  ) || die "openssl could not make the broker certificate in $TLS_DIR"
}

# A random password per principal, and its client settings, written once per checkout.
make_credentials() {
  (umask 077; mkdir -p "$CRED_DIR")
  local p f
  for p in $PRINCIPALS; do
    f="$CRED_DIR/kafka-$p.password"
    [ -s "$f" ] || (umask 077; openssl rand -base64 32 | tr -d '/+=\n' | head -c 32 > "$f")
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
  (umask 077; sed -e "s#@DATA_DIR@#$DATA_DIR#" -e "s#@TLS_DIR@#$TLS_DIR#g" -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" \
    -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" -e "s#@BROKER_PASSWORD@#$(cat "$CRED_DIR/kafka-broker.password")#" \
    "$ROOT/deploy/local/kafka/server.properties" > "$HOME_DIR/server.properties")
  if [ ! -f "$DATA_DIR/meta.properties" ]; then
    local java cluster_id p scram=()
    java=$(java_bin)
    cluster_id=$("$java" -cp "$LIB_DIR/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
    for p in $PRINCIPALS; do
      scram+=(--add-scram "SCRAM-SHA-512=[name=sluice-$p,password=$(cat "$CRED_DIR/kafka-$p.password")]")
    done
    log "formatting storage in $DATA_DIR (cluster $cluster_id) with the SCRAM users sluice-{${PRINCIPALS// /,}}"
    "$java" -cp "$LIB_DIR/*" -Dlog4j2.configurationFile="$ROOT/deploy/local/kafka/log4j2.yaml" \
      kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$HOME_DIR/server.properties" "${scram[@]}" >>"$LOG" 2>&1 \
      || die "formatting Kafka storage failed; see $LOG"
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
  # The SCRAM users live in the data: new passwords only take effect with new data.
  reset) stop_pid kafka 30; rm -rf "$DATA_DIR" "$CRED_DIR"/kafka-*.password; log "data and Kafka passwords wiped" ;;
  *) echo "usage: $0 start|stop|status|reset" >&2; exit 2 ;;
esac
