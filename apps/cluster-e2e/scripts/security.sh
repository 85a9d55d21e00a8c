#!/bin/bash
# Runs the isolation suite (apps/security-e2e, remote mode) against the platform the cluster suite
# deployed: sessions in executor pods, reached through the load balancer's Service. Needs a run of
# `npx nx run cluster-e2e:e2e-cluster` first (tmp/cluster-e2e/state.json: base URL and the two
# tenant keys and the admin key of that run).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
STATE=$ROOT/tmp/cluster-e2e/state.json
[ -f "$STATE" ] || { echo "no $STATE: run npx nx run cluster-e2e:e2e-cluster first" >&2; exit 1; }
export SECURITY_E2E_MODE=remote
SECURITY_E2E_BASE_URL=$(jq -r .baseUrl "$STATE")
SECURITY_E2E_TENANT_KEY=$(jq -r .apiKey "$STATE")
SECURITY_E2E_OTHER_TENANT_KEY=$(jq -r .otherKey "$STATE")
SECURITY_E2E_ADMIN_KEY=$(jq -r .adminKey "$STATE")
export SECURITY_E2E_BASE_URL SECURITY_E2E_TENANT_KEY SECURITY_E2E_OTHER_TENANT_KEY SECURITY_E2E_ADMIN_KEY
cd "$ROOT"
exec npx jest -c apps/security-e2e/jest.config.ts --runInBand "$@"
