#!/usr/bin/env bash
# The one entry point that installs system packages, on a fresh Debian (bookworm) machine, skipping
# what is already there. Needs root for apt; idempotent.
#
#   tools/ci/install-deps.sh                          CI: redis-server, the test tools (chromium,
#                                                     promtool, jq, curl), the sandbox and the
#                                                     runtimes of every template
#   tools/ci/install-deps.sh --platform TEMPLATE...   `npm start`: redis-server, the sandbox and the
#                                                     runtimes of these templates only
#
# Runtimes and the sandbox come from apps/executor/scripts/install-runtimes.sh (also used alone by
# executor images).
set -euo pipefail
cd "$(dirname "$0")/../.."

platform=0
if [[ "${1:-}" == "--platform" ]]; then
  platform=1
  shift
fi

missing=()
need() { # need <command> <apt package>
  command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
need redis-server redis-server
if ((!platform)); then
  need chromium chromium
  need promtool prometheus
  need jq jq
  need curl curl
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing system packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "[install-deps] apt-get install ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The sandbox (bubblewrap, python3-seccomp) and the language runtimes.
bash apps/executor/scripts/install-runtimes.sh "$@"
