#!/bin/bash
# The images of the cluster end-to-end suites, rebuilt every run and imported into the cluster:
# the platform's (tools/kcluster/images.sh) plus executor-python-e2e (the python image with an
# offline wheel directory for the package tests).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
# the templates of the suites' pools (tools/kcluster/images.sh builds all five by default)
KCLUSTER_TEMPLATES=${KCLUSTER_TEMPLATES:-python node python-data} bash "$ROOT/tools/kcluster/images.sh"
. "${KCLUSTER_DIR:-/tmp/executor-kcluster}/cfg/env"
TAG=${TAG:-dev}
cd "$ROOT"
WHEELS=$(SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register -e \
  "process.stdout.write(require('./libs/testing/src').buildWheelDir('e2etoy==1.2.3'))")
IMAGE=ghcr.io/executor-platform/executor-python-e2e:$TAG
TAR=$(mktemp -u "${TMPDIR:-/tmp}/image.XXXXXX.tar")
t0=$SECONDS
buildah bud --layers --format docker -f "$ROOT/apps/cluster-e2e/images/python-packages.Dockerfile" \
  --build-arg "EXECUTOR_IMAGE=ghcr.io/executor-platform/executor-python:$TAG" -t "$IMAGE" "$WHEELS" >/dev/null
buildah push -q "$IMAGE" "docker-archive:$TAR:$IMAGE"
ctr -n k8s.io images import "$TAR" >/dev/null
rm -rf "$TAR" "$WHEELS"
printf '%-28s %4d s\n' executor-python-e2e $((SECONDS - t0)) >>"$KCLUSTER_DIR/logs/images.timings"
echo "[cluster-e2e] images ready"
