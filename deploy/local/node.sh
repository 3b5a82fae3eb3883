#!/usr/bin/env bash
# The Node.js Sluice runs on: the release in .node-version (an LTS line). A node on PATH of the same
# major, at that release or later, will do; otherwise that exact release is installed from the npm
# registry (the package node-linux-<arch>, with the npm it ships, npm@$NODE_NPM_VERSION) into
# $SLUICE_NODE_HOME (~/.cache/sluice/node), one directory per release, shared by every checkout.
#   deploy/local/node.sh bin|install|status
# `bin` prints the directory to put first on PATH (the Makefile does, for every recipe), installing
# the release first when needed, or prints nothing when the node on PATH will do; `install` installs
# it whatever the node on PATH; `status` says which node the platform runs on.
COMPONENT=node
source "$(dirname "$0")/lib.sh"

# The npm that Node $NODE_PIN ships in its own tarball (the registry's package holds only `node`).
NODE_NPM_VERSION=${NODE_NPM_VERSION:-11.19.1}

install() {
  local home tmp pkg
  home=$(node_home)
  if [ -x "$home/bin/node" ] && [ -x "$home/bin/npm" ]; then echo "$home/bin"; return 0; fi
  command -v npm >/dev/null 2>&1 || apt_install npm npm
  pkg="node-linux-$(node_arch)@$NODE_PIN"
  log "installing Node.js $NODE_PIN ($pkg and npm@$NODE_NPM_VERSION from the npm registry) into $home"
  mkdir -p "$(dirname "$home")"
  # Installed beside its final place and renamed into it, so two checkouts installing at once, or an
  # install stopped half-way, never leave a directory that looks complete.
  tmp=$(mktemp -d "$home.partial.XXXXXX")
  if ! npm install --global --prefix "$tmp" --no-audit --no-fund --loglevel=error "$pkg" "npm@$NODE_NPM_VERSION" \
    >>"$LOG_DIR/node-install.log" 2>&1; then
    rm -rf "$tmp"
    die "npm could not install $pkg; see $LOG_DIR/node-install.log and check access to the npm registry"
  fi
  # The new npm reads its global npmrc under the new node's prefix: the machine's settings (a registry
  # mirror, a CA file) go on holding through a link to the machine's own.
  local machine_npmrc
  machine_npmrc=$(npm config get globalconfig 2>/dev/null || true)
  if [ -f "$machine_npmrc" ]; then
    mkdir -p "$tmp/lib/node_modules/node-linux-$(node_arch)/etc"
    ln -sf "$machine_npmrc" "$tmp/lib/node_modules/node-linux-$(node_arch)/etc/npmrc"
  fi
  local got npm_got
  got=$("$tmp/bin/node" -v 2>&1 || true)
  npm_got=$(PATH="$tmp/bin:$PATH" npm -v 2>/dev/null || true)
  if [ "$got" != "v$NODE_PIN" ] || [ "$npm_got" != "$NODE_NPM_VERSION" ]; then
    rm -rf "$tmp"
    die "the installed Node.js does not run as expected (node -v: '$got', npm -v: '$npm_got', wanted v$NODE_PIN and $NODE_NPM_VERSION)"
  fi
  if ! mv -T "$tmp" "$home" 2>/dev/null; then
    rm -rf "$tmp"
    [ -x "$home/bin/node" ] || die "could not move the installed Node.js into $home"
  fi
  log "Node.js $NODE_PIN is in $home/bin"
  echo "$home/bin"
}

bin() {
  [ -n "$NODE_ON_PATH_FITS" ] && return 0
  install
}

status() {
  if [ -n "$NODE_ON_PATH_FITS" ]; then
    log "the node on PATH, $(node -v) ($(command -v node)), fits .node-version ($NODE_PIN)"
  elif [ -x "$(node_home)/bin/node" ]; then
    log "the node on PATH does not fit .node-version ($NODE_PIN); make and these scripts run $(node_home)/bin/node"
  else
    log "the node on PATH does not fit .node-version ($NODE_PIN), which is not installed yet (make install, or $0 install)"
  fi
}

case "${1:-}" in
  bin) bin ;;
  install) install >/dev/null ;;
  status) status ;;
  *) die "usage: $0 bin|install|status" ;;
esac
