#!/bin/bash
# Builds the project's images with buildah on the cluster's local base images and imports them
# into the cluster's containerd (k8s/config/deployment/build-images.sh with DOCKER=buildah IMPORT=1):
# what `kubectl apply -k k8s/overlays/dev` and the pools of the cluster end-to-end suites run.
# Project images are rebuilt every time (buildah's layer cache and the npm cache mount make an
# unchanged step free); only the base images are cached between runs (base-images.sh).
#
#   bash tools/kcluster/images.sh                 # the platform + Redis + the templates below
#   bash tools/kcluster/images.sh executor-ruby   # these images only (names as build-images.sh takes them)
#
# KCLUSTER_TEMPLATES  templates whose executor images are built (those missing from libs/templates
#                     are skipped)       default: python node python-data code-interpreter-v1 base
# TAG                 image tag         default dev (what the dev overlay runs)
# Per-image seconds: $KCLUSTER_DIR/logs/images.timings.
set -euo pipefail
. "$(dirname "$0")/common.sh"
[ -f "$CFG/env" ] || { kclog "no cluster in $KC: run tools/kcluster/up.sh first"; exit 1; }
. "$CFG/env"

TABLE=$REPO_ROOT/k8s/config/deployment/images/templates.tsv
if [ $# -eq 0 ]; then
  set -- operator load-balancer persistence executor
  for t in ${KCLUSTER_TEMPLATES:-python node python-data code-interpreter-v1 base}; do
    if awk -F'\t' -v t="$t" '!/^#/ && $1 == t {found=1} END {exit !found}' "$TABLE"; then set -- "$@" "executor-$t"; fi
  done
  set -- "$@" redis redis-exporter
fi
echo "--- images.sh $(date -Is): $*" >>"$LOG/images.timings"
t0=$SECONDS
DOCKER=buildah NETWORK=host IMPORT=1 TAG=${TAG:-dev} \
  NODE_IMAGE=$KCLUSTER_NODE_IMAGE DEBIAN_IMAGE=$KCLUSTER_DEBIAN_IMAGE \
  TIMINGS=$LOG/images.timings CONTAINERD_NAMESPACE=k8s.io \
  bash "$REPO_ROOT/k8s/config/deployment/build-images.sh" "$@" >"$LOG/images-${TAG:-dev}.log" 2>&1 || {
  tail -40 "$LOG/images-${TAG:-dev}.log" >&2
  kclog "image build failed (full log: $LOG/images-${TAG:-dev}.log)"
  exit 1
}
printf '%-28s %4d s\n' "TOTAL images.sh" $((SECONDS - t0)) >>"$LOG/images.timings"
kclog "images built and imported in $((SECONDS - t0)) s ($LOG/images.timings)"
