#!/usr/bin/env bash
# Sluice's alerting and recording rules (deploy/prometheus): promtool from Debian's prometheus package.
#   deploy/local/prometheus.sh install|test
# `install` installs the package when promtool is missing and prints promtool's path; `test` checks
# every rule file, runs the promtool unit tests, and checks that each alert's runbook link names a
# heading of deploy/prometheus/runbook.md.
COMPONENT=prometheus
source "$(dirname "$0")/lib.sh"

RULES_DIR="$ROOT/deploy/prometheus"
RUNBOOK="$RULES_DIR/runbook.md"

promtool_bin() {
  command -v promtool 2>/dev/null || { [ -x /usr/bin/promtool ] && echo /usr/bin/promtool; }
}

# The package would start its own Prometheus (and port 9090) on install; a policy-rc.d that refuses
# service starts is put in place for the install when the machine has none, as edge.sh does for nginx.
install_promtool() {
  local bin; bin=$(promtool_bin) && { echo "$bin"; return 0; }
  command -v apt-get >/dev/null 2>&1 || die "promtool is not installed and there is no apt-get here; install Prometheus 2.x and put promtool on PATH"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo -n true 2>/dev/null || die "promtool is not installed; run 'sudo apt-get install -y --no-install-recommends prometheus' and try again"
    sudo="sudo -n"
  fi
  local policy=/usr/sbin/policy-rc.d made_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy" && made_policy=1
  fi
  log "installing prometheus (for promtool) from the Debian packages (apt-get; log: $LOG_DIR/apt.log)"
  local ok=""
  if $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >>"$LOG_DIR/apt.log" 2>&1; then
    ok=1
  else
    # Stale or missing package lists are the usual reason; refresh them once and try again.
    $sudo apt-get update >>"$LOG_DIR/apt.log" 2>&1 || true
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >>"$LOG_DIR/apt.log" 2>&1 && ok=1
  fi
  [ -n "$made_policy" ] && $sudo rm -f "$policy"
  [ -n "$ok" ] || die "apt-get could not install prometheus; see $LOG_DIR/apt.log"
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

case "${1:-}" in
  install) install_promtool ;;
  test) run_tests ;;
  *) echo "usage: $0 install|test" >&2; exit 2 ;;
esac
