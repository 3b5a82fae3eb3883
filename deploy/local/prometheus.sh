#!/usr/bin/env bash
# Sluice's Prometheus: the alerting and recording rules (deploy/prometheus) and, for `make up`, a real
# Prometheus from Debian's prometheus package, run as our own process (never the system's service).
#   deploy/local/prometheus.sh install|test|start|stop|status|config
# `install` installs the package when promtool is missing and prints promtool's path; `test` checks
# every rule file, runs the promtool unit tests, and checks that each alert's runbook link names a
# heading of deploy/prometheus/runbook.md. `start` renders .run/prometheus/prometheus.yml from the
# platform's description (deploy/local/prometheus-config.ts: every service process, each replica an
# instance of its service's job, plus the registry and Prometheus itself), checks it with promtool and
# runs Prometheus on PROMETHEUS_LISTEN (127.0.0.1:9090) with the rules loaded, its data in
# .run/prometheus/data kept PROMETHEUS_RETENTION (2d), exemplars stored (the freshness histograms'
# trace ids). PROMETHEUS_TARGETS (job=host:port,...) replaces the services' targets; PROMETHEUS_REGISTRY (127.0.0.1:$REGISTRY_PORT, empty: none) is the registry's.
# PROMETHEUS_EDGE (EDGE_METRICS_LISTEN, 127.0.0.1:3903; empty: none) is the edge's refusal counter.
COMPONENT=prometheus
source "$(dirname "$0")/lib.sh"

RULES_DIR="$ROOT/deploy/prometheus"
RUNBOOK="$RULES_DIR/runbook.md"
HOME_DIR="$RUN_DIR/prometheus"
CONF="$HOME_DIR/prometheus.yml"
DATA="$HOME_DIR/data"
LOG="$LOG_DIR/prometheus.log"
LISTEN=${PROMETHEUS_LISTEN:-127.0.0.1:9090}
HOST=${LISTEN%:*}
PORT=${LISTEN##*:}
RETENTION=${PROMETHEUS_RETENTION:-2d}
export PROMETHEUS_LISTEN="$LISTEN" PROMETHEUS_REGISTRY="${PROMETHEUS_REGISTRY-127.0.0.1:${REGISTRY_PORT:-8085}}"
export PROMETHEUS_EDGE="${PROMETHEUS_EDGE-${EDGE_METRICS_LISTEN:-127.0.0.1:3903}}"

promtool_bin() {
  command -v promtool 2>/dev/null || { [ -x /usr/bin/promtool ] && echo /usr/bin/promtool; }
}

# Installs Debian's prometheus package (for promtool and the server) when missing.
install_promtool() {
  local bin; bin=$(promtool_bin) && { echo "$bin"; return 0; }
  apt_install promtool prometheus
  bin=$(promtool_bin) || die "prometheus was installed but no promtool was found on PATH or in /usr/bin"
  echo "$bin"
}

# Every `runbook:` annotation must point at a `### <AlertName>` heading of the runbook (GitHub's
# anchor of a heading is its text in lower case).
check_runbook_links() {
  local missing=0 anchor
  while read -r anchor; do
    grep -qix "### $anchor" "$RUNBOOK" || { log "runbook link #$anchor has no '### $anchor' heading in $RUNBOOK"; missing=1; }
  done < <(grep -ho 'runbook\.md#[a-z0-9-]*' "$RULES_DIR"/rules/*.yml | sed 's/.*#//' | sort -u)
  [ "$missing" -eq 0 ] || die "runbook links without a heading"
}

run_tests() {
  local bin; bin=$(install_promtool)
  "$bin" check rules "$RULES_DIR"/rules/*.yml
  "$bin" test rules "$RULES_DIR"/tests/*.yml
  check_runbook_links
  log "rules checked, unit tests passed, runbook links resolve"
}

prometheus_bin() {
  command -v prometheus 2>/dev/null || { [ -x /usr/bin/prometheus ] && echo /usr/bin/prometheus; }
}

# Both binaries come with the package; prints "<prometheus> <promtool>".
install_prometheus() {
  local promtool bin
  promtool=$(install_promtool)
  bin=$(prometheus_bin) || die "promtool is installed but no prometheus binary was found on PATH or in /usr/bin; install Debian's prometheus package"
  echo "$bin $promtool"
}

render() {
  local promtool=$1 node_entry="$ROOT/dist/deploy/local/prometheus-config.js"
  [ -f "$node_entry" ] || die "$node_entry is missing; run make build"
  mkdir -p "$HOME_DIR" "$DATA"
  node "$node_entry" "$HOME_DIR" "$RULES_DIR/rules" >/dev/null || die "rendering the Prometheus configuration failed"
  # Checks the rule files it names too.
  "$promtool" check config "$CONF" >>"$LOG" 2>&1 || die "promtool refused the rendered configuration $CONF; see $LOG"
}

healthy() { curl -fsS "http://$LISTEN/-/ready" >/dev/null; }

# wait_until silences what it polls: the reason for giving up goes to the stderr saved as fd 3 by start.
healthy_or_dead() {
  pid_alive prometheus || die "prometheus exited during start-up; last lines of $LOG:
$(tail -n 20 "$LOG")" 2>&3
  healthy
}

# "<up> of <all> targets up", from Prometheus's own view of its targets.
targets_summary() {
  local json
  json=$(curl -fsS "http://$LISTEN/api/v1/targets?state=active") || return 1
  echo "$(grep -o '"health":"up"' <<<"$json" | wc -l) of $(grep -o '"health":"[a-z]*"' <<<"$json" | wc -l) targets up"
}

start() {
  local bins bin promtool
  bins=$(install_prometheus); bin=${bins% *}; promtool=${bins#* }
  if pid_alive prometheus; then
    healthy && { log "already running on http://$LISTEN"; return 0; }
  fi
  port_open "$HOST" "$PORT" && die "port $PORT is taken by a process Sluice did not start (ss -ltnp 'sport = :$PORT')"
  render "$promtool"
  log "starting Prometheus on http://$LISTEN (config $CONF, data $DATA kept $RETENTION, log $LOG)"
  spawn prometheus "$LOG" "$bin" \
    --config.file="$CONF" \
    --storage.tsdb.path="$DATA" \
    --storage.tsdb.retention.time="$RETENTION" \
    --web.listen-address="$LISTEN" \
    --enable-feature=exemplar-storage
  exec 3>&2
  wait_until "${PROMETHEUS_START_TIMEOUT:-30}" "Prometheus on http://$LISTEN" "Read $LOG." healthy_or_dead
  log "ready on http://$LISTEN"
}

status() {
  if pid_alive prometheus && healthy; then
    log "running on http://$LISTEN (pid $(cat "$PID_DIR/prometheus.pid")): $(targets_summary || echo "targets unknown")"
  else
    log "not running"
    return 1
  fi
}

case "${1:-}" in
  install) install_promtool ;;
  test) run_tests ;;
  start) start ;;
  # Prometheus flushes its head block on SIGTERM; give it time before the kill.
  stop) stop_pid prometheus 30 ;;
  status) status ;;
  config) bins=$(install_prometheus); render "${bins#* }"; echo "$CONF" ;;
  *) echo "usage: $0 install|test|start|stop|status|config" >&2; exit 2 ;;
esac
