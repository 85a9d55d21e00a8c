# Shared settings of tools/kube/*.sh (sourced, not run).
#
# EXECUTOR_KUBE_CACHE  where the Kubernetes source and binaries are built and kept
#                      (default ~/.cache/executor-platform/kube; shared by every run and checkout)
KUBE_CACHE=${EXECUTOR_KUBE_CACHE:-$HOME/.cache/executor-platform/kube}
KUBE_VERSION_DEB=1.20.5+really1.20.2-1.1+deb12u1
KUBE_SRC=$KUBE_CACHE/debsrc/src
KUBE_BIN=$KUBE_SRC/_output/local/bin/linux/amd64
APISERVER=$KUBE_BIN/kube-apiserver
KCM=$KUBE_BIN/kube-controller-manager

klog() { echo "[tools/kube $(date +%T)] $*" >&2; }

# A TCP port free on 127.0.0.1 right now (the kernel picks it).
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})'
}

# Stops the process whose PID is in $1 (SIGTERM, then SIGKILL after 10 s). Idempotent.
stop_pidfile() {
  local f=$1 pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$f"
}
