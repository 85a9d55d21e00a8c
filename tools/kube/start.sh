#!/bin/bash
# Starts a throwaway Kubernetes control plane for tests and local runs: etcd, kube-apiserver and
# kube-controller-manager v1.20.2 (built into the cache by build.sh when missing), on loopback
# ports, in a per-run directory. Prints the run directory on stdout (the only stdout output); it holds:
#   kubeconfig   admin (system:masters) bearer-token kubeconfig for the API server
#   env          API_PORT / ETCD_PORT / ETCD_PEER_PORT / KUBECONFIG, sourceable
#   *.pid *.log  etcd, apiserver, kcm
#
#   RUN=$(bash tools/kube/start.sh) && export KUBECONFIG=$RUN/kubeconfig
#   bash tools/kube/restart-apiserver.sh "$RUN"   # cut every watch (same port, same etcd)
#   bash tools/kube/stop.sh "$RUN"                 # stop and remove the run directory
#
# Env: EXECUTOR_KUBE_CACHE (binaries; default ~/.cache/executor-platform/kube), KUBE_RUN_DIR (default
# a new dir under /dev/shm or $TMPDIR), API_PORT / ETCD_PORT / ETCD_PEER_PORT (default: free ports),
# WITH_KCM (1: also run kube-controller-manager for garbage collection etc.).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"

bash "$HERE/build.sh" >&2

base=${TMPDIR:-/tmp}
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm   # etcd fsyncs: memory is much faster than disk
RUN=${KUBE_RUN_DIR:-$(mktemp -d "$base/executor-kube.XXXXXX")}
mkdir -p "$RUN/pki" "$RUN/etcd-data"
ETCD_PORT=${ETCD_PORT:-$(free_port)}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-$(free_port)}
API_PORT=${API_PORT:-$(free_port)}
WITH_KCM=${WITH_KCM:-1}

fail() {
  klog "$*"
  for f in etcd apiserver kcm; do [ -f "$RUN/$f.log" ] && { echo "--- $f.log" >&2; tail -20 "$RUN/$f.log" >&2; }; done
  bash "$HERE/stop.sh" "$RUN" >&2 || true
  exit 1
}

openssl genrsa -out "$RUN/pki/sa.key" 2048 2>/dev/null
# Aggregation layer (as tools/kcluster/up.sh): the API server proxies an APIService's group to its
# server with the front-proxy client certificate and the user in X-Remote-* headers; aggregated servers
# (the operator's External metrics API) trust that CA through kube-system/extension-apiserver-authentication.
# No --enable-aggregator-routing here: without kube-proxy and pods, an APIService reaches a server on
# the host through an ExternalName Service (e.g. localhost), which only the ClusterIP resolver routes.
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=executor-test-front-proxy-ca" \
  -keyout "$RUN/pki/front-proxy-ca.key" -out "$RUN/pki/front-proxy-ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=front-proxy-client" \
  -keyout "$RUN/pki/front-proxy-client.key" -out "$RUN/pki/front-proxy-client.csr" 2>/dev/null
openssl x509 -req -in "$RUN/pki/front-proxy-client.csr" -CA "$RUN/pki/front-proxy-ca.crt" \
  -CAkey "$RUN/pki/front-proxy-ca.key" -CAcreateserial -days 3650 \
  -extfile <(printf 'extendedKeyUsage=clientAuth\n') -out "$RUN/pki/front-proxy-client.crt" 2>/dev/null
openssl rsa -in "$RUN/pki/sa.key" -pubout -out "$RUN/pki/sa.pub" 2>/dev/null
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$TOKEN,admin,admin,system:masters" >"$RUN/tokens.csv"

klog "etcd on 127.0.0.1:$ETCD_PORT (run dir $RUN)"
etcd --name kt --data-dir "$RUN/etcd-data" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "kt=http://127.0.0.1:$ETCD_PEER_PORT" >"$RUN/etcd.log" 2>&1 &
echo $! >"$RUN/etcd.pid"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$ETCD_PORT/health" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$ETCD_PORT/health" >/dev/null || fail "etcd did not become healthy"

# The API server command is kept in a script so restart-apiserver.sh starts the same one.
# --endpoint-reconciler-type=none: the "kubernetes" Service endpoints would be 127.0.0.1, which
# Endpoints validation rejects. No kubelet: pods never run (tests patch pod status themselves).
# --allow-privileged: executor pods are privileged (PLAN D2), as on tools/kcluster.
cat >"$RUN/apiserver.sh" <<SH
#!/bin/bash
exec "$APISERVER" \\
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port=$API_PORT --insecure-port=0 \\
  --cert-dir="$RUN/pki" --etcd-servers=http://127.0.0.1:$ETCD_PORT --token-auth-file="$RUN/tokens.csv" \\
  --authorization-mode=RBAC --service-account-issuer=https://kubernetes.default.svc.cluster.local \\
  --service-account-key-file="$RUN/pki/sa.pub" --service-account-signing-key-file="$RUN/pki/sa.key" \\
  --service-cluster-ip-range=10.96.0.0/24 --endpoint-reconciler-type=none --allow-privileged=true \\
  --requestheader-client-ca-file="$RUN/pki/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \\
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \\
  --requestheader-extra-headers-prefix=X-Remote-Extra- \\
  --proxy-client-cert-file="$RUN/pki/front-proxy-client.crt" --proxy-client-key-file="$RUN/pki/front-proxy-client.key"
SH
chmod +x "$RUN/apiserver.sh"
echo "$TOKEN" >"$RUN/token"
cat >"$RUN/env" <<ENV
API_PORT=$API_PORT
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
KUBECONFIG=$RUN/kubeconfig
ENV

bash "$HERE/restart-apiserver.sh" "$RUN" || fail "kube-apiserver did not become ready"

cat >"$RUN/kubeconfig" <<EOF2
apiVersion: v1
kind: Config
clusters:
- name: executor-test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $RUN/pki/apiserver.crt
users:
- name: admin
  user:
    token: $TOKEN
contexts:
- name: executor-test
  context: {cluster: executor-test, user: admin, namespace: default}
current-context: executor-test
EOF2

if [ "$WITH_KCM" = 1 ]; then
  # Garbage collection of ownerReferences children, namespace deletion, Deployments → ReplicaSets → Pods
  # (pods stay Pending without a kubelet). No HPA controller: tests play the HPA. No listening port.
  "$KCM" --kubeconfig="$RUN/kubeconfig" \
    --authentication-kubeconfig="$RUN/kubeconfig" --authorization-kubeconfig="$RUN/kubeconfig" \
    --controllers=garbagecollector,namespace,deployment,replicaset,serviceaccount-token,serviceaccount \
    --service-account-private-key-file="$RUN/pki/sa.key" --root-ca-file="$RUN/pki/apiserver.crt" \
    --leader-elect=false --use-service-account-credentials=false \
    --bind-address=127.0.0.1 --secure-port=0 --port=0 >"$RUN/kcm.log" 2>&1 &
  echo $! >"$RUN/kcm.pid"
fi
klog "kube-apiserver ready on https://127.0.0.1:$API_PORT; KUBECONFIG=$RUN/kubeconfig"
echo "$RUN"
