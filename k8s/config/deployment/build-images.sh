#!/usr/bin/env bash
# Builds (and optionally pushes, or imports into a containerd) the platform's container images.
# Run from anywhere; the build context is the repository root.
#
#   k8s/config/deployment/build-images.sh                            # every image
#   k8s/config/deployment/build-images.sh operator executor-python   # only these
#   npx nx run k8s:docker-build-operator                             # the same, one Nx target per image
#   DOCKER=buildah IMPORT=1 k8s/config/deployment/build-images.sh    # tools/kcluster: buildah, then into its containerd
#
# Images (<REGISTRY>/<name>:<TAG>):
#   executor-operator, executor-load-balancer, executor-persistence   apps/<app>/Dockerfile
#   executor-base                  apps/executor/Dockerfile (the executor app + its sandbox's packages)
#   executor-<template>            k8s/config/deployment/images/Dockerfile: the runtime of one line of
#                                  images/templates.tsv (generated from libs/templates) + executor-base's app
#                                  (the `base` template's image is executor-template-base)
#   executor-redis, executor-redis-exporter   images/redis*.Dockerfile: Redis and its exporter from
#                                  Debian (the dev overlay's; the base manifests use the upstream images)
#
# Environment:
#   REGISTRY     registry/namespace of every image                       default ghcr.io/executor-platform
#   TAG          tag of every image                                      default 0.1.0
#   DOCKER       the build CLI: docker, podman or buildah                default docker
#   PUSH         1: push each image after building it                    default 0
#   PLATFORM     --platform of the builds (e.g. linux/amd64,linux/arm64 with buildx)   default: none
#   NETWORK      --network of the RUN steps (buildah here: host)         default: the CLI's default
#   NODE_IMAGE   base of the Node.js images (build arg NODE_IMAGE)       default: the Dockerfiles' (node:20.20.2-bookworm-slim)
#   DEBIAN_IMAGE base of the Redis images (build arg DEBIAN_IMAGE)       default: the Dockerfiles' (debian:bookworm-slim)
#   CA_CERTIFICATES  a CA bundle the builds' npm trusts (build secret ca-certificates: a TLS-
#                intercepting proxy's CA)                                 default $NODE_EXTRA_CA_CERTS when set
#   IMPORT       1: import each image into containerd (`ctr -n $CONTAINERD_NAMESPACE images import`;
#                ctr reads CONTAINERD_ADDRESS)                           default 0
#   TIMINGS      file to append "<image> <seconds>" to                   default: none
#   DRY_RUN      1: print the commands instead of running them           default 0
set -euo pipefail

REGISTRY=${REGISTRY:-ghcr.io/executor-platform}
TAG=${TAG:-0.1.0}
DOCKER=${DOCKER:-docker}
PUSH=${PUSH:-0}
PLATFORM=${PLATFORM:-}
NETWORK=${NETWORK:-}
NODE_IMAGE=${NODE_IMAGE:-}
DEBIAN_IMAGE=${DEBIAN_IMAGE:-}
CA_CERTIFICATES=${CA_CERTIFICATES-${NODE_EXTRA_CA_CERTS:-}}
IMPORT=${IMPORT:-0}
TIMINGS=${TIMINGS:-}
DRY_RUN=${DRY_RUN:-0}
CONTAINERD_NAMESPACE=${CONTAINERD_NAMESPACE:-k8s.io}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
TABLE=k8s/config/deployment/images/templates.tsv
APPS=(operator load-balancer persistence)
mapfile -t TEMPLATES < <(awk -F'\t' '!/^#/ && NF {print $1}' "$ROOT/$TABLE")
image_name() { # <template> → its image name (column 2 of the table: libs/templates templateImageName)
  awk -F'\t' -v t="$1" '!/^#/ && $1 == t {print $2}' "$ROOT/$TABLE"
}

usage() {
  echo "usage: $0 [image...]   images: ${APPS[*]} executor ${TEMPLATES[*]/#/executor-} redis redis-exporter" >&2
  exit 2
}

[[ "$REGISTRY" =~ ^[a-z0-9]([a-z0-9._:-]*[a-z0-9])?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$ ]] || {
  echo "invalid REGISTRY '$REGISTRY' (e.g. ghcr.io/org, no trailing slash)" >&2
  exit 2
}
[[ "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || {
  echo "invalid TAG '$TAG'" >&2
  exit 2
}
case "$DOCKER" in docker | podman | buildah | */docker | */podman | */buildah) ;; *) echo "unknown DOCKER '$DOCKER'" >&2; exit 2 ;; esac

run() {
  if [ "$DRY_RUN" = 1 ]; then echo "$*"; else (cd "$ROOT" && "$@"); fi
}

import() { # <image>: into containerd, through a docker-archive tarball
  local image=$1 tar
  tar=$(mktemp "${TMPDIR:-/tmp}/image.XXXXXX.tar")
  rm -f "$tar"
  if [ "${DOCKER##*/}" = buildah ]; then
    run "$DOCKER" push -q "$image" "docker-archive:$tar:$image"
  else
    run "$DOCKER" save -o "$tar" "$image"
  fi
  run ctr -n "$CONTAINERD_NAMESPACE" images import "$tar"
  rm -f "$tar"
}

build() { # <image name> <dockerfile> [build args...]
  local name=$1 image="$REGISTRY/$1:$TAG" dockerfile=$2 t0=$SECONDS
  shift 2
  local args
  if [ "${DOCKER##*/}" = buildah ]; then
    # --layers: reuse unchanged steps (the four apps share their first build steps); docker format
    # keeps HEALTHCHECK (OCI image config has no such field).
    args=(bud --layers --format docker -f "$dockerfile" -t "$image")
  else
    args=(build -f "$dockerfile" -t "$image")
  fi
  [ -n "$PLATFORM" ] && args+=(--platform "$PLATFORM")
  [ -n "$NETWORK" ] && args+=(--network "$NETWORK")
  [ -n "$CA_CERTIFICATES" ] && args+=(--secret "id=ca-certificates,src=$CA_CERTIFICATES")
  for a in "$@"; do args+=(--build-arg "$a"); done
  run "$DOCKER" "${args[@]}" .
  [ "$PUSH" = 1 ] && run "$DOCKER" push "$image"
  [ "$IMPORT" = 1 ] && import "$image"
  [ -n "$TIMINGS" ] && [ "$DRY_RUN" != 1 ] && printf '%-28s %4d s\n' "$name" $((SECONDS - t0)) >>"$TIMINGS"
  return 0
}

node_args() { [ -z "$NODE_IMAGE" ] || echo "NODE_IMAGE=$NODE_IMAGE"; }
debian_args() { [ -z "$DEBIAN_IMAGE" ] || echo "DEBIAN_IMAGE=$DEBIAN_IMAGE"; }

build_one() {
  local extra
  case "$1" in
    operator | load-balancer | persistence)
      mapfile -t extra < <(node_args)
      build "executor-$1" "apps/$1/Dockerfile" "${extra[@]}"
      ;;
    executor)
      mapfile -t extra < <(node_args)
      build executor-base apps/executor/Dockerfile "${extra[@]}"
      ;;
    redis | redis-exporter)
      mapfile -t extra < <(debian_args)
      build "executor-$1" "k8s/config/deployment/images/$1.Dockerfile" "${extra[@]}"
      ;;
    executor-*)
      local t=${1#executor-}
      [[ " ${TEMPLATES[*]} " == *" $t "* ]] || usage
      mapfile -t extra < <(node_args)
      build "$(image_name "$t")" k8s/config/deployment/images/Dockerfile "TEMPLATE=$t" "EXECUTOR_IMAGE=$REGISTRY/executor-base:$TAG" "${extra[@]}"
      ;;
    *) usage ;;
  esac
}

if [ $# -eq 0 ]; then
  set -- "${APPS[@]}" executor "${TEMPLATES[@]/#/executor-}" redis redis-exporter
fi
for image in "$@"; do build_one "$image"; done
