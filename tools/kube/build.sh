#!/bin/bash
# Builds Kubernetes v1.20.2 binaries into $EXECUTOR_KUBE_CACHE (default
# ~/.cache/executor-platform/kube) from Debian bookworm's "kubernetes" source package with
# bookworm's Go 1.19, statically (CGO_ENABLED=0) — only what is missing: a no-op (well under a
# second) when the binaries are cached; about 5 minutes on 2 cores from nothing for the default
# pair. Every component shares the one source tree and Go build cache (_output/local/go/cache),
# so each further binary takes well under a minute. Needs root for apt-get (golang-1.19-go,
# etcd-server, rsync: the kube build scripts copy with it) the first time.
#
#   bash tools/kube/build.sh            # kube-apiserver + kube-controller-manager (the operator's test API)
#   bash tools/kube/build.sh kube-scheduler kubelet kube-proxy   # more components (tools/kcluster)
#   FORCE=1 bash tools/kube/build.sh    # rebuild the named binaries
set -euo pipefail
. "$(dirname "$0")/common.sh"

need_packages() {
  command -v etcd >/dev/null && [ -x /usr/lib/go-1.19/bin/go ] && command -v openssl >/dev/null &&
    [ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ] && [ -d /usr/share/gocode/src/github.com/json-iterator/go ] &&
    command -v dpkg-source >/dev/null && command -v rsync >/dev/null && command -v make >/dev/null && return 1
  return 0
}

install_packages() {
  klog "installing build/run packages with apt-get (golang-1.19-go, etcd-server, rsync, ...)"
  local pkgs=(golang-1.19-go etcd-server etcd-client openssl curl dpkg-dev make rsync
              golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev)
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null; then
    apt-get update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null
  fi
}

fetch_source() {
  # deb-src is not configured: derive deb-src entries from the system's apt sources in a private
  # apt state dir, so the system's apt lists are left alone.
  local alt=$KUBE_CACHE/aptalt
  mkdir -p "$alt/lists/partial" "$alt/cache/archives/partial" "$alt/sources.d" "$KUBE_CACHE/debsrc"
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$alt/sources.d/debian.sources"
  local O=(-o Dir::State::Lists="$alt/lists" -o Dir::Cache="$alt/cache"
           -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$alt/sources.d"
           -o APT::Get::List-Cleanup=false)
  klog "fetching the kubernetes $KUBE_VERSION_DEB source package"
  apt-get "${O[@]}" update >/dev/null
  (cd "$KUBE_CACHE/debsrc" && apt-get "${O[@]}" source --download-only "kubernetes=$KUBE_VERSION_DEB" >/dev/null)
  rm -rf "$KUBE_SRC.partial"
  (cd "$KUBE_CACHE/debsrc" && dpkg-source -x "kubernetes_$KUBE_VERSION_DEB.dsc" "$(basename "$KUBE_SRC").partial" >/dev/null)
  mv "$KUBE_SRC.partial" "$KUBE_SRC"
}

go_env() {
  mkdir -p "$KUBE_CACHE/home" "$KUBE_SRC/.go/src/k8s.io"
  ln -sfn ../../.. "$KUBE_SRC/.go/src/k8s.io/kubernetes"   # as debian/rules does
  export GOPATH=$KUBE_SRC/.go PATH=/usr/lib/go-1.19/bin:$PATH CGO_ENABLED=0 HOME=$KUBE_CACHE/home
  export GOFLAGS=-mod=vendor GOPROXY=off GO111MODULE=on
}

patch_vendor() {
  # k8s 1.20 vendors reflect2 1.0.1 / json-iterator 1.1.10, which crash at run time on Go >= 1.18
  # ("fatal error: fault" in mapiterinit): use bookworm's reflect2 1.0.2 / json-iterator 1.1.12.
  local d
  for d in modern-go/reflect2 json-iterator/go; do
    find "$KUBE_SRC/vendor/github.com/$d" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) -delete
    find "/usr/share/gocode/src/github.com/$d" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) ! -name '*_test.go' \
      -exec cp {} "$KUBE_SRC/vendor/github.com/$d/" \;
  done
}

build() {
  local what=$1
  klog "building $what (go 1.19; the first build takes minutes)"
  (cd "$KUBE_SRC" && go_env && make WHAT="cmd/$what" >"$KUBE_CACHE/build-$what.log" 2>&1) || {
    tail -30 "$KUBE_CACHE/build-$what.log" >&2
    return 1
  }
}

COMPONENTS=("$@")
[ ${#COMPONENTS[@]} = 0 ] && COMPONENTS=(kube-apiserver kube-controller-manager)
for c in "${COMPONENTS[@]}"; do
  case "$c" in
    kube-apiserver | kube-controller-manager | kube-scheduler | kubelet | kube-proxy) ;;
    *) echo "unknown component '$c'" >&2; exit 2 ;;
  esac
done
missing() { local c; for c in "${COMPONENTS[@]}"; do [ -x "$KUBE_BIN/$c" ] || return 0; done; return 1; }

if [ "${FORCE:-0}" = 1 ]; then for c in "${COMPONENTS[@]}"; do rm -f "$KUBE_BIN/$c"; done; fi
if ! missing && command -v etcd >/dev/null; then
  exit 0
fi
mkdir -p "$KUBE_CACHE"
exec 9>"$KUBE_CACHE/.build.lock"
flock 9   # parallel runs build once (the second waits, then finds the binaries)
if need_packages; then install_packages; fi
[ -d "$KUBE_SRC" ] || fetch_source
if missing; then
  [ -f "$KUBE_SRC/.vendor-patched" ] || { patch_vendor; touch "$KUBE_SRC/.vendor-patched"; }
  for c in "${COMPONENTS[@]}"; do [ -x "$KUBE_BIN/$c" ] || build "$c"; done
fi
"$KUBE_BIN/${COMPONENTS[0]}" --version >&2
