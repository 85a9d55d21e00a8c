#!/bin/bash
# Stops the processes of a run directory made by start.sh (by their PID files) and removes the
# directory (KEEP=1 keeps it, e.g. to read the logs).
#   bash tools/kube/stop.sh RUN_DIR
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
RUN=${1:-${KUBE_RUN_DIR:-}}
[ -n "$RUN" ] || { echo "usage: stop.sh RUN_DIR" >&2; exit 2; }
[ -d "$RUN" ] || exit 0
for name in kcm apiserver etcd; do stop_pidfile "$RUN/$name.pid"; done
[ "${KEEP:-0}" = 1 ] || rm -rf "$RUN"
