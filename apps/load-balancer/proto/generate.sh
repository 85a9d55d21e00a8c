#!/usr/bin/env bash
# Generates the envd Connect services (protoc-gen-es, through buf from npm) into
# apps/load-balancer/src/app/e2b/envd/gen. With --check: generates into a temporary directory and
# fails when it differs from the committed files (CI: `npx nx run load-balancer:check-generated`).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../../.. && pwd)
export PATH="$root/node_modules/.bin:$PATH"
committed=../src/app/e2b/envd/gen
template() { printf '{"version":"v2","plugins":[{"local":"protoc-gen-es","out":"%s","opt":["target=ts","import_extension=none"]}]}' "$1"; }
if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  buf generate --template "$(template "$tmp")" .
  if ! diff -r "$tmp" "$committed"; then
    echo "load-balancer: $committed is out of date with proto/*.proto: run \`npx nx run load-balancer:generate\` and commit" >&2
    exit 1
  fi
  echo "load-balancer: generated envd code is up to date"
else
  rm -rf "$committed"
  buf generate --template "$(template "$committed")" .
fi
