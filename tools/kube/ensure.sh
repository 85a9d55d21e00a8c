#!/bin/bash
# CI step before the operator's integration suite: makes sure etcd, kube-apiserver and
# kube-controller-manager v1.20.2 are available in $EXECUTOR_KUBE_CACHE (default
# ~/.cache/executor-platform/kube), building them when missing (~5 min on 2 cores; root for apt),
# then checks that a control plane starts and stops. A few seconds when the cache is warm.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
bash "$HERE/build.sh"
RUN=$(bash "$HERE/start.sh")
bash "$HERE/stop.sh" "$RUN"
echo "[tools/kube] control plane OK (cache ${EXECUTOR_KUBE_CACHE:-$HOME/.cache/executor-platform/kube})"
