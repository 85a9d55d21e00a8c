# Source it: `. tools/kcluster/env.sh` sets KUBECONFIG (the cluster's admin), CONTAINERS_STORAGE_CONF
# (buildah's storage of the cluster, where the base images are), CONTAINERD_ADDRESS and
# CONTAINERD_NAMESPACE (ctr talks to the cluster's containerd) for this shell. up.sh writes the values.
_kc_dir=${KCLUSTER_DIR:-/tmp/executor-kcluster}
if [ -f "$_kc_dir/cfg/env" ]; then
  . "$_kc_dir/cfg/env"
else
  echo "no cluster state in $_kc_dir: run tools/kcluster/up.sh first" >&2
fi
unset _kc_dir
