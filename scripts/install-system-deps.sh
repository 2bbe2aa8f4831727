#!/usr/bin/env bash
# Installs the Debian packages that the tests need and the npm registry cannot provide:
#   chromium            headless browser for the paxos-core browser/Web Worker tests and the sim:web test
#   libmemcached-tools  memccapable, libmemcached's memcached conformance test, run against kv-server
#                       (also memccp/memccat/memcslap, the README's kv-server client commands)
#   memcached           the real memcached 1.6, to record paxos-kv's protocol fixtures and to benchmark
#                       kv-server against
# Idempotent: asks dpkg which of them are missing, and only then updates apt's lists and installs
# those. The README's commands and .ci/run start with it, so a fresh machine and CI have them.
set -euo pipefail

PACKAGES=(chromium libmemcached-tools memcached)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg -s "$pkg" 2>/dev/null | grep -qx 'Status: install ok installed'; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "install-system-deps: ${missing[*]} must be installed from Debian's packages, which needs root; run this script as root (or install sudo)." >&2
    exit 1
  fi
  as_root=(sudo)
fi
echo "install-system-deps: installing ${missing[*]} from Debian's packages" >&2
# apt and the packages' scripts talk on stderr too (debconf, invoke-rc.d refusing to start the
# memcached service in a container): keep all of it, and show it only if the install fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { "${as_root[@]}" apt-get update -qq && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-system-deps: installing ${missing[*]} failed (apt's output above)" >&2
  exit 1
fi
