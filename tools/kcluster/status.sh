#!/bin/bash
# Exit 0 when the cluster of tools/kcluster is up (API ready, node Ready), 1 otherwise; prints why.
set -uo pipefail
. "$(dirname "$0")/common.sh"
[ -f "$CFG/admin.kubeconfig" ] || { echo "down: no cluster state in $KC"; exit 1; }
kubectl_ get --raw /readyz >/dev/null 2>&1 || { echo "down: the API server does not answer"; exit 1; }
r=$(kubectl_ get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)
[ "$r" = True ] || { echo "down: node $NODE not Ready"; exit 1; }
echo "up: KUBECONFIG=$CFG/admin.kubeconfig"
