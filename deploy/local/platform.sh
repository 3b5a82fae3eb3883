#!/usr/bin/env bash
# The Sluice services under the local supervisor (which restarts any that exits).
#   [SLUICE_REPLICAS=2] deploy/local/platform.sh up|down|status
COMPONENT=platform
source "$(dirname "$0")/lib.sh"

SUPERVISOR="$ROOT/dist/deploy/local/supervisor.js"

# name:port of every process the supervisor runs (libs/platform's description; SLUICE_REPLICAS of each scalable service).
processes() { node "$ROOT/dist/deploy/local/services.js" ports; }

ready() {
  local entry
  for entry in $(processes); do
    curl -fsS "http://127.0.0.1:${entry##*:}/health/ready" >/dev/null || return 1
  done
}

up() {
  [ -f "$SUPERVISOR" ] || die "$SUPERVISOR is missing; run make build"
  if pid_alive supervisor; then
    log "already running (pid $(cat "$PID_DIR/supervisor.pid"))"
  else
    for entry in $(processes); do
      port=${entry##*:}
      port_open 127.0.0.1 "$port" && die "port $port is taken by a process Sluice did not start (ss -ltnp 'sport = :$port')"
    done
    log "starting services (logs: $LOG_DIR/<service>.log)"
    spawn supervisor "$LOG_DIR/supervisor.log" node "$SUPERVISOR" "$ROOT" "$RUN_DIR"
  fi
  wait_until "${PLATFORM_START_TIMEOUT:-90}" "the Sluice services" \
    "Read $LOG_DIR/supervisor.log and the service logs next to it." ready_or_dead
  log "all services ready"
}

ready_or_dead() {
  pid_alive supervisor || die "the supervisor exited; see $LOG_DIR/supervisor.log"
  ready
}

status() {
  pid_alive supervisor || { log "not running"; return 1; }
  local port name
  for entry in $(processes); do
    name=${entry%%:*}; port=${entry##*:}
    if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then log "$name ready on :$port"; else log "$name NOT ready on :$port"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) stop_pid supervisor 40 ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
