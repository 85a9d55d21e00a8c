#!/bin/bash
# (Re)starts the kube-apiserver of a run directory made by start.sh, on the same port and etcd,
# and waits until /readyz answers 200 (up to 60 s). Stopping it first cuts every open watch.
#   bash tools/kube/restart-apiserver.sh RUN_DIR
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
RUN=${1:?usage: restart-apiserver.sh RUN_DIR}
. "$RUN/env"
stop_pidfile "$RUN/apiserver.pid"
"$RUN/apiserver.sh" >>"$RUN/apiserver.log" 2>&1 &
echo $! >"$RUN/apiserver.pid"
TOKEN=$(cat "$RUN/token")
for _ in $(seq 1 240); do
  code=$(curl -sk -m 2 -H "Authorization: Bearer $TOKEN" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$API_PORT/readyz" || true)
  [ "$code" = 200 ] && exit 0
  kill -0 "$(cat "$RUN/apiserver.pid")" 2>/dev/null || { tail -20 "$RUN/apiserver.log" >&2; exit 1; }
  sleep 0.25
done
tail -20 "$RUN/apiserver.log" >&2
exit 1
