#!/usr/bin/env bash
# The edge proxy in front of the command and query APIs: nginx from Debian's packages, run as our
# own process with a configuration rendered by libs/edge (never the system's nginx service).
#   deploy/local/edge.sh start|stop|status|install|config
# `install` installs nginx when missing and prints the binary's path (the tests use it);
# `install-mtail` does the same for mtail, which counts the edge's own refusals from nginx's
# refusal log and serves them as sluice_edge_refusals_total on EDGE_METRICS_LISTEN (127.0.0.1:3903).
# EDGE_LISTEN (127.0.0.1:8080), EDGE_COMMAND_API, EDGE_QUERY_API and the other EDGE_* settings
# of deploy/local/edge-config.ts shape the configuration.
COMPONENT=edge
source "$(dirname "$0")/lib.sh"

HOME_DIR="$RUN_DIR/edge"
CONF="$HOME_DIR/nginx.conf"
LOG="$LOG_DIR/edge.log"
LISTEN=${EDGE_LISTEN:-127.0.0.1:8080}
HOST=${LISTEN%:*}
PORT=${LISTEN##*:}
METRICS_LISTEN=${EDGE_METRICS_LISTEN:-127.0.0.1:3903}
METRICS_HOST=${METRICS_LISTEN%:*}
METRICS_PORT=${METRICS_LISTEN##*:}
METRICS_LOG="$LOG_DIR/edge-metrics.log"

nginx_bin() {
  command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }
}

# Installs Debian's nginx when missing (apt_install keeps the package from starting its own service).
install_nginx() {
  local bin; bin=$(nginx_bin) && { echo "$bin"; return 0; }
  apt_install nginx nginx-light nginx
  bin=$(nginx_bin) || die "nginx was installed but no nginx binary was found on PATH or in /usr/sbin"
  echo "$bin"
}

mtail_bin() {
  command -v mtail 2>/dev/null || { [ -x /usr/bin/mtail ] && echo /usr/bin/mtail; }
}

install_mtail() {
  local bin; bin=$(mtail_bin) && { echo "$bin"; return 0; }
  apt_install mtail mtail
  bin=$(mtail_bin) || die "mtail was installed but no mtail binary was found on PATH"
  echo "$bin"
}

metrics_ready() { curl -fsS "http://$METRICS_LISTEN/metrics" >/dev/null; }

# mtail tails the refusal log nginx writes (one line per refusal it answers itself) and serves the counts.
start_metrics() {
  local bin; bin=$(install_mtail)
  if pid_alive edge-metrics && metrics_ready; then return 0; fi
  port_open "$METRICS_HOST" "$METRICS_PORT" && die "port $METRICS_PORT is taken by a process Sluice did not start (ss -ltnp 'sport = :$METRICS_PORT')"
  touch "$HOME_DIR/refusals.log"
  spawn edge-metrics "$METRICS_LOG" "$bin" -progs "$HOME_DIR/mtail" -logs "$HOME_DIR/refusals.log" \
    -address "$METRICS_HOST" -port "$METRICS_PORT" -logtostderr -emit_prog_label=false
  wait_until 20 "the edge's refusal counter on http://$METRICS_LISTEN/metrics" "Read $METRICS_LOG." metrics_ready_or_dead
  log "refusals counted on http://$METRICS_LISTEN/metrics (sluice_edge_refusals_total)"
}

metrics_ready_or_dead() {
  pid_alive edge-metrics || die "mtail exited during start-up; last lines of $METRICS_LOG:
$(tail -n 20 "$METRICS_LOG")"
  metrics_ready
}

render() {
  local node_entry="$ROOT/dist/deploy/local/edge-config.js"
  [ -f "$node_entry" ] || die "$node_entry is missing; run make build"
  mkdir -p "$HOME_DIR"
  node "$node_entry" "$HOME_DIR" "$LOG" >/dev/null || die "rendering the edge configuration failed"
  "$1" -t -q -c "$CONF" -p "$HOME_DIR" -e "$LOG" || die "nginx refused the rendered configuration $CONF; see $LOG"
}

upstream_of() { awk -v u="$1" '$1 == "upstream" && $2 == u {on=1} on && $1 == "server" {printf "%s%s", sep, $2; sep=","} on && $1 == "}" {exit}' "$CONF"; }

healthy() { curl -fsS "http://$LISTEN/edge/health" >/dev/null; }

start() {
  local bin; bin=$(install_nginx)
  if pid_alive edge; then
    healthy && { start_metrics; log "already running on http://$LISTEN"; return 0; }
  fi
  port_open "$HOST" "$PORT" && die "port $PORT is taken by a process Sluice did not start (ss -ltnp 'sport = :$PORT')"
  render "$bin"
  log "starting nginx on http://$LISTEN (writes → $(upstream_of sluice_command_api), reads → $(upstream_of sluice_query_api); config $CONF, log $LOG)"
  spawn edge "$LOG" "$bin" -c "$CONF" -p "$HOME_DIR" -e "$LOG"
  wait_until "${EDGE_START_TIMEOUT:-20}" "the edge on http://$LISTEN" "Read $LOG." healthy_or_dead
  start_metrics
  log "ready on http://$LISTEN"
}

healthy_or_dead() {
  pid_alive edge || die "nginx exited during start-up; last lines of $LOG:
$(tail -n 20 "$LOG")"
  healthy
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid edge 15; stop_pid edge-metrics 5 ;;
  status)
    if pid_alive edge && healthy; then log "running on http://$LISTEN (pid $(cat "$PID_DIR/edge.pid"))"; else log "not running"; exit 1; fi
    if pid_alive edge-metrics && metrics_ready; then log "refusals counted on http://$METRICS_LISTEN/metrics"; else log "refusal counter (mtail) not running"; exit 1; fi ;;
  install) install_nginx ;;
  install-mtail) install_mtail ;;
  config) render "$(install_nginx)"; echo "$CONF" ;;
  *) echo "usage: $0 start|stop|status|install|install-mtail|config" >&2; exit 2 ;;
esac
