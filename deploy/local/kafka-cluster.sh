#!/usr/bin/env bash
# Apache Kafka as production runs it: three KRaft nodes, each broker and controller (a quorum of
# three voters), replication factor 3 and min.insync.replicas 2, secured as the single node of
# deploy/local/kafka.sh (SASL_SSL, the same SCRAM users and passwords, the same CA and certificate,
# ACLs). It runs beside that node, on its own ports and data, for the failover tests and benchmark.
#   deploy/local/kafka-cluster.sh start|stop|status|brokers|reset
#   deploy/local/kafka-cluster.sh kill N      kill -9 node N (1..3), as a crash would
#   deploy/local/kafka-cluster.sh restart N   start node N again (after kill or stop) and wait for it
# KAFKA_CLUSTER_PORT (19092): node N's client listener is KAFKA_CLUSTER_PORT+N-1 and its controller
# listener KAFKA_CLUSTER_PORT+100+N-1. KAFKA_CLUSTER_HEAP (512m) is each node's heap.
# Data, settings and logs: .run/kafka-cluster/node-N, .run/logs/kafka-cluster-N.log, .run/pids/kafka-cluster-N.pid.
COMPONENT=kafka-cluster
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kafka-lib.sh"

NODES=3
BASE_PORT=${KAFKA_CLUSTER_PORT:-19092}
HEAP=${KAFKA_CLUSTER_HEAP:-512m}
CLUSTER_DIR="$RUN_DIR/kafka-cluster"

client_port() { echo $((BASE_PORT + $1 - 1)); }
controller_port() { echo $((BASE_PORT + 100 + $1 - 1)); }
node_dir() { echo "$CLUSTER_DIR/node-$1"; }
node_log() { echo "$LOG_DIR/kafka-cluster-$1.log"; }
pid_name() { echo "kafka-cluster-$1"; }
all_nodes() { seq 1 "$NODES"; }

brokers() {
  local n out=()
  for n in $(all_nodes); do out+=("127.0.0.1:$(client_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

voters() {
  local n out=()
  for n in $(all_nodes); do out+=("$n@127.0.0.1:$(controller_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

check_node() {
  [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] && [ "$1" -le "$NODES" ] || die "no node '${1:-}': nodes are 1..$NODES"
}

# Each node's settings; every node formatted once, all with one cluster id. Formatted again (the
# cluster's data wiped) when the principals' passwords changed since: the SCRAM users live in the data.
configure() {
  (umask 077; mkdir -p "$CLUSTER_DIR")
  make_tls
  make_passwords
  local sha; sha=$(passwords_sha)
  if [ -f "$CLUSTER_DIR/passwords.sha" ] && [ "$(cat "$CLUSTER_DIR/passwords.sha")" != "$sha" ]; then
    log "the Kafka passwords changed since the cluster was formatted: wiping its data"
    rm -rf "$CLUSTER_DIR"/node-* "$CLUSTER_DIR/cluster.id"
  fi
  [ -s "$CLUSTER_DIR/cluster.id" ] || new_cluster_id > "$CLUSTER_DIR/cluster.id"
  local n dir cluster_id; cluster_id=$(cat "$CLUSTER_DIR/cluster.id")
  for n in $(all_nodes); do
    dir=$(node_dir "$n")
    (umask 077; mkdir -p "$dir"
      { render_node_properties "$dir/data" "$(client_port "$n")" "$(controller_port "$n")" \
          | sed -e '/^controller.quorum.bootstrap.servers=/d' -e '/^node.id=/d'
        sed -e "s#@NODE_ID@#$n#" -e "s#@VOTERS@#$(voters)#" "$ROOT/deploy/local/kafka/cluster.properties"
      } > "$dir/server.properties")
    if [ ! -f "$dir/data/meta.properties" ]; then
      log "formatting node $n in $dir/data (cluster $cluster_id) with the SCRAM users sluice-{${PRINCIPALS// /,}}"
      format_storage "$dir/server.properties" "$cluster_id" "$(node_log "$n")"
    fi
  done
  echo "$sha" > "$CLUSTER_DIR/passwords.sha"
}

node_healthy() {
  port_open 127.0.0.1 "$(client_port "$1")" && grep -q "Kafka Server started" "$(node_log "$1")"
}

node_healthy_or_dead() {
  pid_alive "$(pid_name "$1")" || die "node $1 exited during start-up; last lines of $(node_log "$1"):
$(tail -n 20 "$(node_log "$1")")"
  node_healthy "$1"
}

# launch N: starts node N unless it runs (its previous log kept as .1).
launch() {
  local n=$1 logfile; logfile=$(node_log "$n")
  pid_alive "$(pid_name "$n")" && return 0
  port_open 127.0.0.1 "$(client_port "$n")" \
    && die "port $(client_port "$n") is taken by another process (ss -ltnp 'sport = :$(client_port "$n")'); set KAFKA_CLUSTER_PORT"
  [ -f "$logfile" ] && mv -f "$logfile" "$logfile.1"
  : >"$logfile"
  log "starting node $n on 127.0.0.1:$(client_port "$n") (controller $(controller_port "$n"); log: $logfile)"
  launch_node "$(pid_name "$n")" "$logfile" "$(node_dir "$n")/server.properties" "$HEAP"
}

await_node() {
  wait_until "${KAFKA_START_TIMEOUT:-90}" "Kafka node $1 on 127.0.0.1:$(client_port "$1")" \
    "Read $(node_log "$1"); 'deploy/local/kafka-cluster.sh reset' wipes the cluster's data." \
    node_healthy_or_dead "$1"
}

start() {
  fetch_jars
  configure
  local n
  # All at once: a node's broker starts only once the quorum has a leader, which takes two voters.
  for n in $(all_nodes); do launch "$n"; done
  for n in $(all_nodes); do await_node "$n"; done
  log "ready: $(brokers)"
}

stop() {
  local n
  for n in $(all_nodes); do stop_pid "$(pid_name "$n")" 30; done
}

status() {
  local n down=0
  for n in $(all_nodes); do
    if pid_alive "$(pid_name "$n")" && node_healthy "$n"; then
      log "node $n running on 127.0.0.1:$(client_port "$n") (pid $(cat "$PID_DIR/$(pid_name "$n").pid"))"
    else
      log "node $n not running"; down=1
    fi
  done
  return $down
}

kill_node() {
  check_node "$1"
  local name; name=$(pid_name "$1")
  pid_alive "$name" || die "node $1 is not running"
  local pid; pid=$(cat "$PID_DIR/$name.pid")
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$PID_DIR/$name.pid"
  log "node $1 killed (pid $pid)"
}

restart_node() {
  check_node "$1"
  [ -f "$(node_dir "$1")/server.properties" ] || die "node $1 was never started: run start first"
  launch "$1"
  await_node "$1"
  log "node $1 ready on 127.0.0.1:$(client_port "$1")"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  brokers) brokers ;;
  kill) kill_node "${2:-}" ;;
  restart) restart_node "${2:-}" ;;
  reset) stop; rm -rf "$CLUSTER_DIR"; log "cluster data wiped" ;;
  *) echo "usage: $0 start|stop|status|brokers|reset|kill N|restart N" >&2; exit 2 ;;
esac
