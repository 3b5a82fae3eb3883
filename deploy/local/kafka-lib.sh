# What deploy/local/kafka.sh (one node) and deploy/local/kafka-cluster.sh (three nodes) share:
# the jars, the checkout's CA and broker certificate, the principals and their passwords, and
# how a node is configured and launched. Sourced after lib.sh, never run.
#
# Both run the same jars (.run/kafka/libs, from deploy/local/kafka/pom.xml), the same CA and
# broker certificate (.run/kafka/tls: valid for 127.0.0.1 and localhost, so for every node on
# loopback) and the same SCRAM users with the same passwords (.run/credentials), so a service's
# credentials work on either.

KAFKA_HOME_DIR="$RUN_DIR/kafka"
LIB_DIR="$KAFKA_HOME_DIR/libs"
TLS_DIR="$KAFKA_HOME_DIR/tls"
CRED_DIR="$RUN_DIR/credentials"
POM="$ROOT/deploy/local/kafka/pom.xml"
KAFKA_LOG4J="$ROOT/deploy/local/kafka/log4j2.yaml"
PRINCIPALS="admin broker command-api outbox-relay projector bonus-service payments-worker observer"

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

# A random password per principal, written once per checkout (the SCRAM users are made from them).
make_passwords() {
  (umask 077; mkdir -p "$CRED_DIR")
  local p f
  command -v openssl >/dev/null 2>&1 || die "no openssl found; install it (Debian: apt-get install openssl)"
  for p in $PRINCIPALS; do
    f="$CRED_DIR/kafka-$p.password"
    [ -s "$f" ] || (umask 077; openssl rand -base64 32 | tr -d '/+=\n' | head -c 32 > "$f")
  done
}

# The fingerprint of every principal's password: a node formatted with other passwords has other SCRAM users.
passwords_sha() {
  local p
  for p in $PRINCIPALS; do cat "$CRED_DIR/kafka-$p.password"; echo; done | sha256sum | cut -d' ' -f1
}

# The StorageTool arguments that create every principal's SCRAM user.
scram_args() {
  local p
  for p in $PRINCIPALS; do
    printf '%s\n' --add-scram "SCRAM-SHA-512=[name=sluice-$p,password=$(cat "$CRED_DIR/kafka-$p.password")]"
  done
}

# render_node_properties DATA_DIR KAFKA_PORT CONTROLLER_PORT: the node's settings from the one template
# (deploy/local/kafka/server.properties), security included, on stdout.
render_node_properties() {
  sed -e "s#@DATA_DIR@#$1#" -e "s#@TLS_DIR@#$TLS_DIR#g" -e "s#@KAFKA_PORT@#$2#g" \
    -e "s#@CONTROLLER_PORT@#$3#g" -e "s#@BROKER_PASSWORD@#$(cat "$CRED_DIR/kafka-broker.password")#" \
    "$ROOT/deploy/local/kafka/server.properties"
}

# format_storage PROPERTIES CLUSTER_ID LOG [StorageTool options...]: formats a node's log dir with the SCRAM users.
format_storage() {
  local props=$1 cluster_id=$2 logfile=$3; shift 3
  local java; java=$(java_bin)
  local scram=()
  mapfile -t scram < <(scram_args)
  "$java" -cp "$LIB_DIR/*" -Dlog4j2.configurationFile="$KAFKA_LOG4J" \
    kafka.tools.StorageTool format "$@" -t "$cluster_id" -c "$props" "${scram[@]}" >>"$logfile" 2>&1 \
    || die "formatting Kafka storage failed; see $logfile"
}

new_cluster_id() {
  "$(java_bin)" -cp "$LIB_DIR/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1
}

# launch_node NAME LOG PROPERTIES HEAP: starts a Kafka node detached (pid in .run/pids/NAME.pid).
launch_node() {
  local name=$1 logfile=$2 props=$3 heap=$4
  local java; java=$(java_bin)
  spawn "$name" "$logfile" "$java" -Xms256m -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_LOG4J" \
    -cp "$LIB_DIR/*" kafka.Kafka "$props"
}
