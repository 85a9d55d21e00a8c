#!/usr/bin/env bash
# Installs, on a fresh Debian (bookworm) machine, the system packages the platform's tests
# and `npm start` need, skipping what is already there. Needs root for apt; idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
need() { # need <command> <apt package>
  command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
need redis-server redis-server
need bwrap bubblewrap
need chromium chromium
need promtool prometheus
need jq jq
need curl curl

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing system packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "[install-deps] apt-get install ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Language runtimes for the 12 executor templates.
if [ -x apps/executor/scripts/install-runtimes.sh ]; then
  bash apps/executor/scripts/install-runtimes.sh
fi
