#!/usr/bin/env bash
# Fails when a generated file (CRDs, RBAC, Redis ACL, the template image table, envd Connect code) differs from what its TypeScript source produces.
set -euo pipefail
cd "$(dirname "$0")/../.."
status=0
for target in crd:check-generated operator:check-generated templates:check-generated load-balancer:check-generated queues:check-generated; do
  project=${target%%:*}
  if npx nx show project "$project" --json 2>/dev/null | grep -q "\"${target#*:}\""; then
    npx nx run "$target" --skip-nx-cache --output-style=static || status=1
  fi
done
exit $status
