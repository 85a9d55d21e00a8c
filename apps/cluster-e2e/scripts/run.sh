#!/bin/bash
# The cluster suites, one run at a time per machine: they own the cluster's executor-system
# namespace (the global setup deletes and re-installs it), so a second run (another checkout, the
# autoscaling suites) waits for this lock instead of tearing the platform down under it.
# Then the isolation suite (apps/security-e2e, remote mode) against the sessions in those pods,
# under the same lock: both results count (tools/ci/run-tests.mjs reads every Jest run's results).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
LOCK=${KCLUSTER_DIR:-/tmp/executor-kcluster}/e2e.lock
cd "$ROOT"
exec flock -w 3600 "$LOCK" bash -c '
  npx jest -c apps/cluster-e2e/jest.config.ts --runInBand "$@"; suites=$?
  bash apps/cluster-e2e/scripts/security.sh; security=$?
  [ $suites -eq 0 ] && [ $security -eq 0 ]' run.sh "$@"
