#!/bin/bash
# down.sh — stops the cluster up.sh started (by the PIDs in $KCLUSTER_DIR/pids) and undoes what it
# changed on the host: pods (through the API, so kubelet tears down netns and veths), containerd
# tasks, mounts under $KCLUSTER_DIR, iptables (KUBE-*, CNI-*, KCLUSTER-INPUT, the mangle DROP), the
# kcbr0 bridge and the 10.96.0.0/24 route, kubepods cgroups, sysctls, and the hard-coded host paths
# it created (/var/log/pods, /var/log/containers, /run/containerd, /run/runc).
#
#   bash tools/kcluster/down.sh          # keeps binaries, images, PKI, etcd data, volumes (a re-up is quick)
#   WIPE=1 bash tools/kcluster/down.sh   # also deletes the cluster state (etcd, containerd, kubelet, volumes)
set -uo pipefail
. "$(dirname "$0")/common.sh"
log() { echo "[down $(date +%T)] $*"; }
[ -d "$KC" ] || { log "nothing to do ($KC does not exist)"; exit 0; }
touch "$PIDS"

stop() { # stop <name>: SIGTERM, up to 15 s, then SIGKILL
  local p i
  p=$(pid_of "$1")
  [ -n "$p" ] || return 0
  if alive_pid "$1" "$p"; then
    kill "$p"
    for i in $(seq 1 150); do alive_pid "$1" "$p" || break; sleep 0.1; done
    if alive_pid "$1" "$p"; then kill -9 "$p"; log "$1 ($p) did not exit in 15 s: SIGKILL"; fi
    log "stopped $1 ($p)"
  fi
}

# 1. With the controllers stopped nothing recreates pods: delete them through the API so kubelet
#    tears them down properly (CNI DEL, netns, volumes).
stop dns-sync
stop dnsmasq
stop kube-scheduler
stop kube-controller-manager
if running kube-apiserver && running kubelet && [ -f "$CFG/admin.kubeconfig" ]; then
  kubectl_ delete pods --all --all-namespaces --grace-period=1 --wait=false >/dev/null 2>&1
  for _ in $(seq 1 120); do
    [ -z "$(kubectl_ get pods -A -o name 2>/dev/null)" ] && break
    sleep 0.5
  done
  log "pods deleted through the API ($(kubectl_ get pods -A -o name 2>/dev/null | wc -l) left)"
  sleep 2 # kubelet stops the sandboxes
fi
stop kube-proxy
stop kubelet
stop api-bridge
stop kube-apiserver
stop etcd

# 2. whatever still runs in containerd: kill and delete tasks and containers (their shims exit)
if running containerd; then
  for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks delete -f "$t" >/dev/null 2>&1; done
  for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do "${CTR[@]}" containers delete "$c" >/dev/null 2>&1; done
fi
stop containerd
# shims of this containerd (their command line names its socket) that are still there
for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $RUN/containerd/containerd.sock" 2>/dev/null); do
  log "shim $p still running: killing it"
  kill "$p" 2>/dev/null
done

# 3. mounts under $KC, deepest first: netns, overlay rootfs, kubelet volumes
awk -v k="$KC" 'index($5, k) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done

# 4. iptables: KUBE-* (kubelet, kube-proxy), CNI-* (portmap), ours
[ -x "$BIN/kube-proxy" ] && "$BIN/kube-proxy" --cleanup >/dev/null 2>&1
for t in filter nat mangle raw; do
  iptables -t "$t" -S 2>/dev/null | grep -E -- '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE|CNI|KCLUSTER)-' | sed 's/^-A/-D/' |
    while read -r rule; do eval iptables -t "$t" "$rule" 2>/dev/null; done
  for ch in $(iptables -t "$t" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^(KUBE|CNI|KCLUSTER)-/ {print $2}'); do iptables -t "$t" -F "$ch" 2>/dev/null; done
  for ch in $(iptables -t "$t" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^(KUBE|CNI|KCLUSTER)-/ {print $2}'); do iptables -t "$t" -X "$ch" 2>/dev/null; done
done
while iptables -t mangle -D FORWARD -i "$BR" ! -o "$BR" -j DROP 2>/dev/null; do :; done

# 5. network: the Service route, veths left on the bridge, the bridge
ip route del "$SVC_CIDR" 2>/dev/null
for v in $(ip -o link show master "$BR" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do ip link del "$v" 2>/dev/null; done
ip link del "$BR" 2>/dev/null

# 6. the cgroups kubelet made (cgroupfs driver), deepest first
for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/unified/; do
  [ -d "$h/kubepods" ] && find "$h/kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null
done

# 7. sysctls kubelet, kube-proxy and the bridge plugin changed
if [ -f "$KC/sysctl.orig" ]; then
  while IFS== read -r k v; do [ -n "$k" ] && sysctl -qw "$k=$v" 2>/dev/null; done <"$KC/sysctl.orig"
  rm -f "$KC/sysctl.orig"
  log "sysctls restored"
fi

# 8. host paths kubelet 1.20 / containerd 1.6 / buildah hard-code, if up.sh created them
if [ -f "$KC/hostpaths.created" ]; then
  while read -r d; do [ -n "$d" ] && rm -rf "$d"; done <"$KC/hostpaths.created"
  rm -f "$KC/hostpaths.created"
fi

: >"$PIDS"
if [ "${WIPE:-0}" = 1 ]; then
  rm -rf "$KC/etcd-data" "$KC/containerd" "$KC/kubelet" "$RUN" "$KC/cni" "$KC/pv" "$IMG"/*.imported
  log "cluster state wiped (binaries, base images, PKI and buildah storage kept; rm -rf $KC for all)"
fi
log "done"
