#!/usr/bin/env bash
# Builds (and optionally pushes) the platform's container images. Run from anywhere; the build
# context is the repository root.
#
#   k8s/config/deployment/build-images.sh                  # every image
#   k8s/config/deployment/build-images.sh operator executor-python   # only these
#   npx nx run k8s:docker-build-operator                   # the same, one Nx target per image
#
# Images (<REGISTRY>/<name>:<TAG>):
#   executor-operator, executor-load-balancer, executor-persistence   apps/<app>/Dockerfile
#   executor-base                       apps/executor/Dockerfile (the executor app + bubblewrap)
#   executor-<template> (14 templates)  k8s/config/deployment/images/Dockerfile FROM executor-base
#                                       (the `base` template's image is executor-template-base)
#
# Environment:
#   REGISTRY  registry/namespace of every image       default ghcr.io/executor-platform
#   TAG       tag of every image                       default 0.1.0
#   DOCKER    the build CLI (docker, podman)           default docker
#   PUSH      1: push each image after building it     default 0
#   PLATFORM  --platform of the builds (e.g. linux/amd64,linux/arm64 with buildx)   default: none
#   DRY_RUN   1: print the commands instead of running them   default 0
set -euo pipefail

REGISTRY=${REGISTRY:-ghcr.io/executor-platform}
TAG=${TAG:-0.1.0}
DOCKER=${DOCKER:-docker}
PUSH=${PUSH:-0}
PLATFORM=${PLATFORM:-}
DRY_RUN=${DRY_RUN:-0}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
APPS=(operator load-balancer persistence)
TEMPLATES=(python python-data node typescript bash c cpp java rust go ruby r code-interpreter-v1 base)

image_name() { # <template> → its image name (libs/templates templateImageName)
  if [ "$1" = base ]; then echo executor-template-base; else echo "executor-$1"; fi
}

usage() {
  echo "usage: $0 [image...]   images: ${APPS[*]} executor ${TEMPLATES[*]/#/executor-}" >&2
  exit 2
}

[[ "$REGISTRY" =~ ^[a-z0-9]([a-z0-9._:-]*[a-z0-9])?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$ ]] || {
  echo "invalid REGISTRY '$REGISTRY' (e.g. ghcr.io/org, no trailing slash)" >&2; exit 2; }
[[ "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || { echo "invalid TAG '$TAG'" >&2; exit 2; }

run() {
  if [ "$DRY_RUN" = 1 ]; then echo "$*"; else (cd "$ROOT" && "$@"); fi
}

build() { # <image name> <dockerfile> [build args...]
  local image="$REGISTRY/$1:$TAG" dockerfile=$2
  shift 2
  local args=(build -f "$dockerfile" -t "$image")
  [ -n "$PLATFORM" ] && args+=(--platform "$PLATFORM")
  for a in "$@"; do args+=(--build-arg "$a"); done
  run "$DOCKER" "${args[@]}" .
  [ "$PUSH" = 1 ] && run "$DOCKER" push "$image"
  return 0
}

build_one() {
  case "$1" in
    operator | load-balancer | persistence) build "executor-$1" "apps/$1/Dockerfile" ;;
    executor) build executor-base apps/executor/Dockerfile ;;
    executor-*)
      local t=${1#executor-}
      [[ " ${TEMPLATES[*]} " == *" $t "* ]] || usage
      build "$(image_name "$t")" k8s/config/deployment/images/Dockerfile "TEMPLATE=$t" "EXECUTOR_IMAGE=$REGISTRY/executor-base:$TAG"
      ;;
    *) usage ;;
  esac
}

if [ $# -eq 0 ]; then
  set -- "${APPS[@]}" executor "${TEMPLATES[@]/#/executor-}"
fi
for image in "$@"; do build_one "$image"; done
