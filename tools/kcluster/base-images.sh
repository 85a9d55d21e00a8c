#!/bin/bash
# Base images of the local cluster, made without any registry and cached as docker-archive tarballs
# in $KCLUSTER_CACHE/img (keyed on what goes into them + this script's hash), then loaded into the
# cluster's buildah storage. Called by up.sh; safe to run again (a no-op when all are loaded).
#
#   localhost/pause:3.4                               the pod sandbox image (containerd's sandbox_image):
#                                                     build/pause/linux/pause.c of the Kubernetes tree, gcc -static
#   localhost/executor-platform/debian:bookworm       debootstrap --variant=minbase bookworm from Debian's mirror
#   localhost/executor-platform/node:<ver>-bookworm   the debian base + this machine's Node.js (node, npm,
#                                                     corepack under /usr/local as in the official node
#                                                     images, user node = uid 1000): the NODE_IMAGE of the
#                                                     project's Dockerfiles here (no Docker Hub)
set -euo pipefail
. "$(dirname "$0")/common.sh"

SELF_HASH=$(sha256sum "$0" | cut -c1-12)
DEBIAN_IMAGE=localhost/executor-platform/debian:bookworm
NODE_VERSION=$(node --version | sed 's/^v//')
NODE_IMAGE=localhost/executor-platform/node:$NODE_VERSION-bookworm
PAUSE_IMAGE=localhost/pause:3.4
mkdir -p "$IMG" "$KC_CACHE/img" "$LOG"

key() { printf '%s' "$SELF_HASH $*" | sha256sum | cut -c1-16; }
PAUSE_KEY=$(key pause "$KUBE_VERSION_DEB" "$(gcc -dumpversion)")
DEBIAN_KEY=$(key debian bookworm minbase)
NODE_KEY=$(key node "$DEBIAN_KEY" "$NODE_VERSION" "$(npm --version)")

loaded() { "${BA[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# cached <name> <key>: path of the tarball in the cache (exists when it was built before)
cached() { echo "$KC_CACHE/img/$1-$2.tar"; }
save() { # save <name> <key> <image>: push to the cache (replacing older keys of the same name)
  local tar; tar=$(cached "$1" "$2")
  rm -f "$KC_CACHE/img/$1-"*.tar
  "${BA[@]}" push -q "$3" "docker-archive:$tar.partial:$3" >/dev/null
  mv "$tar.partial" "$tar"
}
restore() { # restore <name> <key> <image>: already loaded, or load the cached tarball
  local tar; tar=$(cached "$1" "$2")
  [ "$(cat "$IMG/$1.loaded" 2>/dev/null)" = "$2" ] && loaded "$3" && return 0
  [ -f "$tar" ] || return 1
  "${BA[@]}" pull -q "docker-archive:$tar" >/dev/null
  echo "$2" >"$IMG/$1.loaded"
}
commit() { # commit <container> <image> <name> <key>
  "${BA[@]}" commit -q --rm --format docker "$1" "$2" >/dev/null
  echo "$4" >"$IMG/$3.loaded"
}

pause() {
  restore pause "$PAUSE_KEY" "$PAUSE_IMAGE" && return 0
  kclog "building $PAUSE_IMAGE from $KUBE_SRC/build/pause/linux/pause.c"
  local d=$IMG/pause c
  mkdir -p "$d"
  gcc -Os -Wall -Werror -static -DVERSION=v3.4-kcluster -o "$d/pause" "$KUBE_SRC/build/pause/linux/pause.c"
  strip "$d/pause"
  c=$("${BA[@]}" from scratch)
  "${BA[@]}" copy "$c" "$d/pause" /pause >/dev/null
  "${BA[@]}" config --entrypoint '["/pause"]' --user 65535:65535 "$c"
  commit "$c" "$PAUSE_IMAGE" pause "$PAUSE_KEY"
  save pause "$PAUSE_KEY" "$PAUSE_IMAGE"
  rm -rf "$d"
}

debian() {
  restore debian "$DEBIAN_KEY" "$DEBIAN_IMAGE" && return 0
  kclog "debootstrap --variant=minbase bookworm (~35 s)"
  local root=$IMG/rootfs c
  rm -rf "$root"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$LOG/debootstrap.log" 2>&1 || {
    tail -20 "$LOG/debootstrap.log" >&2
    return 1
  }
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
  c=$("${BA[@]}" from scratch)
  "${BA[@]}" copy "$c" "$root/" / >/dev/null
  "${BA[@]}" config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
  commit "$c" "$DEBIAN_IMAGE" debian "$DEBIAN_KEY"
  save debian "$DEBIAN_KEY" "$DEBIAN_IMAGE"
  rm -rf "$root"
}

node_base() {
  restore node "$NODE_KEY" "$NODE_IMAGE" && return 0
  kclog "building $NODE_IMAGE (this machine's Node.js $NODE_VERSION on $DEBIAN_IMAGE)"
  local node npm_dir c
  node=$(readlink -f "$(command -v node)")
  npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)   # .../node_modules/npm
  c=$("${BA[@]}" from "$DEBIAN_IMAGE")
  "${BA[@]}" copy "$c" "$node" /usr/local/bin/node >/dev/null
  "${BA[@]}" copy "$c" "$npm_dir" /usr/local/lib/node_modules/npm >/dev/null
  if [ -d "$(dirname "$npm_dir")/corepack" ]; then
    "${BA[@]}" copy "$c" "$(dirname "$npm_dir")/corepack" /usr/local/lib/node_modules/corepack >/dev/null
  fi
  "${BA[@]}" run --network none "$c" -- sh -euc '
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
    [ ! -d /usr/local/lib/node_modules/corepack ] || ln -sf ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack
    groupadd --gid 1000 node
    useradd --uid 1000 --gid node --shell /bin/bash --create-home node
    node --version >/dev/null && npm --version >/dev/null'
  "${BA[@]}" config --cmd node "$c"
  commit "$c" "$NODE_IMAGE" node "$NODE_KEY"
  save node "$NODE_KEY" "$NODE_IMAGE"
}

pause
debian
node_base
# What build-images.sh and the cluster use (sourced by env.sh).
cat >"$CFG/base-images.env" <<EOF
KCLUSTER_DEBIAN_IMAGE=$DEBIAN_IMAGE
KCLUSTER_NODE_IMAGE=$NODE_IMAGE
KCLUSTER_PAUSE_IMAGE=$PAUSE_IMAGE
EOF
