#!/usr/bin/env bash
# The Sluice services under the local supervisor (which restarts any that exits).
#   [SLUICE_REPLICAS=2] deploy/local/platform.sh up|down|status|migrate
COMPONENT=platform
source "$(dirname "$0")/lib.sh"

SUPERVISOR="$ROOT/dist/deploy/local/supervisor.js"
CLI="$ROOT/dist/services/cli/src/main.js"

# The platform's database: `sluice db roles` (as the superuser) makes the owner role and one role per
# service and hands the database to the owner; `sluice migrate` (as the owner) runs every service's
# migrations, creates the outbox's publication and slot, and grants each service role its privileges.
# Every connection verifies the server's certificate (postgres.sh made the CA).
SLUICE_DATABASE=${SLUICE_DATABASE:-sluice}
DATABASE_ADMIN_URL=${DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/$SLUICE_DATABASE}
export DATABASE_SSL_CA_FILE="${DATABASE_SSL_CA_FILE:-$RUN_DIR/postgres-tls/ca.crt}"
export SLUICE_DATABASE_URL="postgres://127.0.0.1:5432/$SLUICE_DATABASE"

# With REGISTRY_AUTH=basic (registry.sh), the release user registers the schemas and the services
# only look them up with the read-only user.
REGISTRY_AUTH=${REGISTRY_AUTH:-basic}
if [ "$REGISTRY_AUTH" = basic ]; then
  export SCHEMA_REGISTRY_URL_FILE="$RUN_DIR/registry/auth/sluice-services.url" SCHEMA_AUTO_REGISTER=false
fi

# Every span goes to the local Zipkin (zipkin.sh, which make up starts first), every trace recorded:
# the local platform is where one follows a request (docs/tracing.md). TRACING_EXPORTER=none turns it off.
export TRACING_EXPORTER="${TRACING_EXPORTER:-zipkin}"
export TRACING_ENDPOINT="${TRACING_ENDPOINT:-http://${ZIPKIN_LISTEN:-127.0.0.1:9411}/api/v2/spans}"
export TRACING_SAMPLE_RATIO="${TRACING_SAMPLE_RATIO:-1}"

migrate() {
  [ -f "$CLI" ] || die "$CLI is missing; run make build"
  [ -s "$DATABASE_SSL_CA_FILE" ] || die "$DATABASE_SSL_CA_FILE is missing; run deploy/local/postgres.sh start"
  log "database roles and migrations ($SLUICE_DATABASE)"
  DATABASE_URL="$DATABASE_ADMIN_URL" node "$CLI" db roles >>"$LOG_DIR/migrate.log" 2>&1 \
    || die "sluice db roles failed; see $LOG_DIR/migrate.log"
  # The projector's step creates its topics and reads their partition count: as the broker's admin,
  # like the release Job on Kubernetes.
  local kafka_admin="$RUN_DIR/credentials/kafka-admin.env"
  [ -s "$kafka_admin" ] || die "$kafka_admin is missing; run deploy/local/kafka.sh start"
  (set -a && . "$kafka_admin" && set +a &&
    DATABASE_URL="postgres://sluice_owner@127.0.0.1:5432/$SLUICE_DATABASE" node "$CLI" migrate) >>"$LOG_DIR/migrate.log" 2>&1 \
    || die "sluice migrate failed; see $LOG_DIR/migrate.log"
  if [ "$REGISTRY_AUTH" = basic ]; then
    SCHEMA_REGISTRY_URL_FILE="$RUN_DIR/registry/auth/sluice-release.url" node "$CLI" schemas register >>"$LOG_DIR/migrate.log" 2>&1 \
      || die "sluice schemas register failed; see $LOG_DIR/migrate.log"
  fi
}

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
    migrate
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
  migrate) migrate ;;
  down) stop_pid supervisor 40 ;;
  status) status ;;
  *) echo "usage: $0 up|down|status|migrate" >&2; exit 2 ;;
esac
