# Shared settings of tools/kcluster/*.sh (sourced, not run). See tools/kcluster/README.md.
#
# KCLUSTER_DIR    the running cluster's state: configs, PKI, logs, PIDs, etcd, containerd, kubelet,
#                 buildah storage (default /tmp/executor-kcluster; one cluster per machine)
# KCLUSTER_CACHE  base image tarballs kept between runs, keyed on versions + the image script's
#                 hash (default ~/.cache/executor-platform/kcluster). The Kubernetes binaries are
#                 tools/kube's, in $EXECUTOR_KUBE_CACHE (default ~/.cache/executor-platform/kube).
KCLUSTER_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$KCLUSTER_TOOLS/../.." && pwd)
. "$REPO_ROOT/tools/kube/common.sh"

KC=${KCLUSTER_DIR:-/tmp/executor-kcluster}
KC_CACHE=${KCLUSTER_CACHE:-$HOME/.cache/executor-platform/kcluster}
BIN=$KC/bin RUN=$KC/run LOG=$KC/logs PKI=$KC/pki CFG=$KC/cfg IMG=$KC/img PIDS=$KC/pids

# Loopback ports of the control plane (not the defaults, so nothing else on the machine collides).
ETCD_PORT=23790 ETCD_PEER_PORT=23800 API_PORT=16443
NODE=kc-node
# The node's only address: the CNI bridge. Pods get 10.244.0.10+; Services 10.96.0.0/24.
BR=kcbr0 NODE_IP=10.244.0.1 POD_CIDR=10.244.0.0/24 SVC_CIDR=10.96.0.0/24 SVC_API_IP=10.96.0.1
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
# ProcMountType (alpha in 1.20): pods may ask for securityContext.procMount: Unmasked.
FEATURE_GATES=ProcMountType=true
# Host paths kubelet 1.20 / containerd 1.6 / buildah hard-code (removed by down.sh if up.sh made them).
HOST_PATHS=(/var/log/pods /var/log/containers /run/containerd /run/runc)
# Statically provisioned hostPath PersistentVolumes (StorageClass kcluster-local, the default).
PV_COUNT=6 PV_SIZE=20Gi

CTR=(ctr --address "$RUN/containerd/containerd.sock" -n k8s.io)
# buildah's storage lives with the cluster (not /var/lib/containers): containers-storage reads it.
STORAGE_CONF=$CFG/containers-storage.conf
BA=(env CONTAINERS_STORAGE_CONF="$STORAGE_CONF" buildah)

kclog() { echo "[kcluster $(date +%T)] $*" >&2; }

pid_of() { awk -v n="$1" '$1==n{p=$2} END{print p}' "$PIDS" 2>/dev/null; }
# alive_pid <name> <pid>: running, not a zombie (PID 1 of these VMs reaps orphans only every
# ~1.5 s, so `kill -0` alone reports zombies as alive), and still ours (PID reuse: the command line
# names $KC, or is the API bridge's socat).
alive_pid() {
  local st tok=$KC
  st=$(ps -o stat= -p "$2" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "${st:0:1}" != Z ] || return 1
  [ "$1" = api-bridge ] && tok=socat
  tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null | grep -F -- "$tok" >/dev/null
}
running() { local p; p=$(pid_of "$1"); [ -n "$p" ] && alive_pid "$1" "$p"; }

kubectl_() { /usr/bin/kubectl --kubeconfig "$CFG/admin.kubeconfig" "$@"; }
