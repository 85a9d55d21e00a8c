#!/bin/bash
# The cluster suites, one run at a time per machine: they own the cluster's executor-system
# namespace (the global setup deletes and re-installs it), so a second run (another checkout, the
# autoscaling suites) waits for this lock instead of tearing the platform down under it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
LOCK=${KCLUSTER_DIR:-/tmp/executor-kcluster}/e2e.lock
cd "$ROOT"
exec flock -w 3600 "$LOCK" npx jest -c apps/cluster-e2e/jest.config.ts --runInBand "$@"
