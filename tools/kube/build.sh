#!/bin/bash
# Builds kube-apiserver and kube-controller-manager v1.20.2 into $EXECUTOR_KUBE_CACHE
# (default ~/.cache/executor-platform/kube) from Debian bookworm's "kubernetes" source package
# with bookworm's Go 1.19 — only what is missing: a no-op (well under a second) when both
# binaries are cached; about 5 minutes on 2 cores from nothing. Needs root for apt-get
# (golang-1.19-go, etcd-server) the first time.
#
#   bash tools/kube/build.sh            # build what is missing
#   FORCE=1 bash tools/kube/build.sh    # rebuild the binaries
set -euo pipefail
. "$(dirname "$0")/common.sh"

need_packages() {
  command -v etcd >/dev/null && [ -x /usr/lib/go-1.19/bin/go ] && command -v openssl >/dev/null &&
    [ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ] && [ -d /usr/share/gocode/src/github.com/json-iterator/go ] &&
    command -v dpkg-source >/dev/null && return 1
  return 0
}

install_packages() {
  klog "installing build/run packages with apt-get (golang-1.19-go, etcd-server, ...)"
  if ! apt-get install -y --no-install-recommends golang-1.19-go etcd-server etcd-client openssl curl dpkg-dev \
    golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev >/dev/null; then
    apt-get update >/dev/null
    apt-get install -y --no-install-recommends golang-1.19-go etcd-server etcd-client openssl curl dpkg-dev \
      golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev >/dev/null
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

[ "${FORCE:-0}" = 1 ] && rm -f "$APISERVER" "$KCM"
if [ -x "$APISERVER" ] && [ -x "$KCM" ] && command -v etcd >/dev/null; then
  exit 0
fi
mkdir -p "$KUBE_CACHE"
exec 9>"$KUBE_CACHE/.build.lock"
flock 9   # two parallel first runs build once
if need_packages; then install_packages; fi
[ -d "$KUBE_SRC" ] || fetch_source
if [ ! -x "$APISERVER" ] || [ ! -x "$KCM" ]; then
  [ -f "$KUBE_SRC/.vendor-patched" ] || { patch_vendor; touch "$KUBE_SRC/.vendor-patched"; }
  [ -x "$APISERVER" ] || build kube-apiserver
  [ -x "$KCM" ] || build kube-controller-manager
fi
"$APISERVER" --version >&2
