#!/usr/bin/env bash
# Apicurio Registry (runnable archive from Maven Central), storing its schemas in
# PostgreSQL so schema ids survive restarts. Clients use its Confluent-compatible
# API at /apis/ccompat/v7.
#   deploy/local/registry.sh start|stop|status
# REGISTRY_PORT (8085), REGISTRY_DATABASE_URL (jdbc:postgresql://127.0.0.1:5432/sluice_registry),
# REGISTRY_COMPATIBILITY (BACKWARD_TRANSITIVE) override the defaults.
# REGISTRY_AUTH=basic (the default; none turns it off) is HTTP basic authentication with role-based
# authorization, no OIDC server needed: three users with generated passwords (.run/registry/auth, 0600): sluice-admin
# (sr-admin), sluice-release (sr-developer: registers schemas), sluice-services (sr-readonly: looks
# them up). Their client URLs, credentials included, are in .run/registry/auth/<user>.url.
COMPONENT=registry
source "$(dirname "$0")/lib.sh"

# 3.1.x, the newest line for Java 17, is not published as a runnable archive on
# Maven Central (only 3.0.9 and 3.3.x are); 3.3.x needs Java 21+. 3.0.9 serves the
# same ccompat v7 API on Java 17.
APICURIO_VERSION=${APICURIO_VERSION:-3.0.9}
REGISTRY_PORT=${REGISTRY_PORT:-8085}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
REGISTRY_DB=${REGISTRY_DB:-sluice_registry}
REGISTRY_DATABASE_URL=${REGISTRY_DATABASE_URL:-jdbc:postgresql://$PGHOST:$PGPORT/$REGISTRY_DB}
# Replays read every event ever written with today's reader schema, so each new
# schema must read all earlier versions, not just the previous one.
REGISTRY_COMPATIBILITY=${REGISTRY_COMPATIBILITY:-BACKWARD_TRANSITIVE}
HOME_DIR="$RUN_DIR/registry"
REGISTRY_AUTH=${REGISTRY_AUTH:-basic}
AUTH_DIR="$HOME_DIR/auth"
APP_DIR="$HOME_DIR/apicurio-registry-$APICURIO_VERSION"
LOG="$LOG_DIR/registry.log"
URL="http://127.0.0.1:$REGISTRY_PORT"

fetch_app() {
  [ -f "$APP_DIR/apicurio-registry-app-$APICURIO_VERSION-runner.jar" ] && return 0
  require_mvn
  local artifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all"
  log "resolving $artifact from Maven Central (cached in ~/.m2 after the first time)"
  mkdir -p "$HOME_DIR/download"
  mvn -B dependency:copy -Dartifact="$artifact" -DoutputDirectory="$HOME_DIR/download" >>"$LOG_DIR/maven.log" 2>&1 \
    || die "maven could not resolve $artifact; see $LOG_DIR/maven.log and check access to Maven Central"
  rm -rf "$APP_DIR.tmp"; mkdir -p "$APP_DIR.tmp"
  tar -xzf "$HOME_DIR/download/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" -C "$APP_DIR.tmp"
  mv "$APP_DIR.tmp" "$APP_DIR"
}

ensure_database() {
  command -v psql >/dev/null 2>&1 || die "psql not found; install postgresql-client"
  if ! psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -tAc "select 1 from pg_database where datname = '$REGISTRY_DB'" | grep -q 1; then
    log "creating database $REGISTRY_DB"
    psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qc "create database $REGISTRY_DB" >/dev/null
  fi
}

ready() { curl -fsS "$URL/health/ready" >/dev/null; }

ready_or_dead() {
  pid_alive registry || die "the registry exited during start-up; last lines of $LOG:
$(tail -n 20 "$LOG")"
  ready
}

# Quarkus reads config/application.properties from the working directory: the embedded users live
# there (not on the command line, where ps would show them).
write_auth_config() {
  mkdir -p "$AUTH_DIR" "$HOME_DIR/config" && chmod 700 "$AUTH_DIR" "$HOME_DIR/config"
  local user role props="$HOME_DIR/config/application.properties"
  : >"$props" && chmod 600 "$props"
  printf '%s\n' 'quarkus.http.auth.basic=true' 'apicurio.auth.role-based-authorization=true' \
    'quarkus.security.users.embedded.enabled=true' 'quarkus.security.users.embedded.plain-text=true' >>"$props"
  for entry in sluice-admin:sr-admin sluice-release:sr-developer sluice-services:sr-readonly; do
    user=${entry%%:*}; role=${entry##*:}
    if [ ! -s "$AUTH_DIR/$user" ]; then (umask 077 && openssl rand -hex 24 >"$AUTH_DIR/$user"); fi
    printf 'quarkus.security.users.embedded.users.%s=%s\nquarkus.security.users.embedded.roles.%s=%s\n' \
      "$user" "$(cat "$AUTH_DIR/$user")" "$user" "$role" >>"$props"
    (umask 077 && printf 'http://%s:%s@127.0.0.1:%s/apis/ccompat/v7\n' "$user" "$(cat "$AUTH_DIR/$user")" "$REGISTRY_PORT" >"$AUTH_DIR/$user.url")
  done
}

admin_auth() {
  if [ "$REGISTRY_AUTH" = basic ]; then printf -- '-usluice-admin:%s' "$(cat "$AUTH_DIR/sluice-admin")"; else printf -- '-s'; fi
}

set_compatibility() {
  local body
  body=$(curl -fsS "$(admin_auth)" -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    "$URL/apis/ccompat/v7/config" -d "{\"compatibility\":\"$REGISTRY_COMPATIBILITY\"}") \
    || die "could not set the global compatibility rule at $URL/apis/ccompat/v7/config"
  log "global compatibility: $body"
}

start() {
  if pid_alive registry; then
    ready && { log "already running at $URL"; set_compatibility; return 0; }
  elif port_open 127.0.0.1 "$REGISTRY_PORT"; then
    if ready && curl -fsS "$(admin_auth)" "$URL/apis/ccompat/v7/config" >/dev/null 2>&1; then
      log "using the registry already answering at $URL (not started from this checkout)"
      set_compatibility
      return 0
    fi
    die "port $REGISTRY_PORT is taken by a process that is not a working schema registry (ss -ltnp 'sport = :$REGISTRY_PORT'); stop it or set REGISTRY_PORT"
  else
    fetch_app
    ensure_database
    local java; java=$(java_bin)
    case "$REGISTRY_AUTH" in
      basic) write_auth_config; log "basic authentication with roles on (users and client URLs: $AUTH_DIR)" ;;
      none) rm -f "$HOME_DIR/config/application.properties" ;;
      *) die "REGISTRY_AUTH must be none or basic, not $REGISTRY_AUTH" ;;
    esac
    cd "$HOME_DIR"
    : >"$LOG"
    log "starting Apicurio Registry $APICURIO_VERSION at $URL (log: $LOG)"
    spawn registry "$LOG" "$java" -Xms128m -Xmx512m \
      -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
      -Dquarkus.log.console.json=false \
      -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=postgresql \
      -Dapicurio.datasource.url="$REGISTRY_DATABASE_URL" \
      -Dapicurio.datasource.username="$PGUSER" -Dapicurio.datasource.password="${PGPASSWORD:-unused}" \
      -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 \
      -Dapicurio.datasource.jdbc.max-size=10 \
      -jar "$APP_DIR/apicurio-registry-app-$APICURIO_VERSION-runner.jar"
  fi
  wait_until "${REGISTRY_START_TIMEOUT:-120}" "schema registry at $URL" "Read $LOG." ready_or_dead
  set_compatibility
  log "ready at $URL (Confluent API: $URL/apis/ccompat/v7)"
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid registry 20 ;;
  status) if pid_alive registry && ready; then log "running (pid $(cat "$PID_DIR/registry.pid"))"; else log "not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
