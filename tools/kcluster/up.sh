#!/bin/bash
# up.sh — the project's single-node Kubernetes v1.20.2 cluster on this machine, for the cluster
# end-to-end suites (apps/cluster-e2e) and for trying the manifests as a user would. Pods really
# run: etcd, kube-apiserver (aggregation layer on), kube-controller-manager, kube-scheduler,
# kubelet and kube-proxy on containerd + runc + bridge CNI, all from Debian bookworm (binaries from
# its `kubernetes` source package via tools/kube/build.sh; no registry, no network beyond Debian's
# mirror). Pods have no route off the machine.
#
#   bash tools/kcluster/up.sh          # build/restore what is missing, start what is not running, wait for Ready
#   . tools/kcluster/env.sh            # KUBECONFIG, CONTAINERS_STORAGE_CONF, CONTAINERD_ADDRESS for the shell
#   bash tools/kcluster/down.sh        # stop it and undo the host changes (WIPE=1: also the cluster state)
#
# Idempotent: a re-run starts only what is not running (4 s when everything is). Per-step timings are
# appended to $KCLUSTER_DIR/logs/up.timings. Details, traps and measured timings: README.md here.
set -euo pipefail
. "$(dirname "$0")/common.sh"

mkdir -p "$KC" "$LOG" "$RUN" "$PKI" "$CFG" "$IMG" "$BIN"
touch "$PIDS"
T_START=$(date +%s)
log() { echo "[up $(date +%T)] $*"; }
timed() { # timed <label> <cmd...>: run it, append "<label> <seconds>" to up.timings
  local label=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  "$@"
  t1=$(date +%s.%N)
  printf '%-28s %7.1f s\n' "$label" "$(echo "$t1 - $t0" | bc)" | tee -a "$LOG/up.timings"
}
start() { # start <name> <cmd...>: a daemon in its own session, log in $LOG/<name>.log, PID in $PIDS
  local name=$1
  shift
  if running "$name"; then return 0; fi
  echo "=== $(date -Is) starting: $*" >>"$LOG/$name.log"
  setsid "$@" >>"$LOG/$name.log" 2>&1 </dev/null &
  echo "$name $!" >>"$PIDS"
  log "started $name (pid $!)"
}
put() { # put <file>: write stdin to <file> only when the content changed (kube-proxy 1.20 exits with
  # "content of the proxy server's configuration file was updated" when its file is rewritten)
  local f=$1
  cat >"$f.new"
  if cmp -s "$f.new" "$f"; then rm -f "$f.new"; else mv "$f.new" "$f"; fi
}
wait_for() { # wait_for <seconds> <what> <cmd...>
  local n=$1 what=$2 i
  shift 2
  for ((i = 0; i < n * 4; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  log "TIMEOUT waiting for $what"
  return 1
}
echo "--- up.sh $(date -Is)" >>"$LOG/up.timings"

# ------------------------------------------------------------------ 1. Debian packages
# Runtime of the cluster and of the image builds. (tools/kube/build.sh installs the build side:
# golang-1.19-go, etcd-server, rsync, dpkg-dev, ...)
RUNTIME_PACKAGES=(containerd runc containernetworking-plugins iptables conntrack socat ethtool
  buildah debootstrap dnsmasq-base jq bc curl openssl gcc libc6-dev)
install_packages() {
  local need=() p
  for p in "${RUNTIME_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  [ ${#need[@]} = 0 ] && return 0
  log "apt-get install ${need[*]}"
  # No systemd here: installing containerd starts nothing.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >"$LOG/apt.log" 2>&1 || {
    apt-get update >>"$LOG/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >>"$LOG/apt.log" 2>&1
  }
}

# ------------------------------------------------------------------ 2. binaries
ensure_binaries() {
  # tools/kube builds into its cache, under a lock (a build already running is waited for).
  bash "$REPO_ROOT/tools/kube/build.sh" "${COMPONENTS[@]}" 2>>"$LOG/build.log"
  local c
  for c in "${COMPONENTS[@]}"; do
    # a copy: a later FORCE rebuild in the cache never changes the binary of a running cluster
    cmp -s "$KUBE_BIN/$c" "$BIN/$c" || { cp "$KUBE_BIN/$c" "$BIN/$c.new" && mv -f "$BIN/$c.new" "$BIN/$c"; }
  done
}

# ------------------------------------------------------------------ 3. images
storage_conf() {
  mkdir -p "$KC/buildah/root" "$KC/buildah/runroot"
  put "$STORAGE_CONF" <<EOF
[storage]
driver = "overlay"
graphroot = "$KC/buildah/root"
runroot = "$KC/buildah/runroot"
EOF
}

# ------------------------------------------------------------------ 4. host network + sysctls
save_sysctls() {
  [ -f "$KC/sysctl.orig" ] && return 0
  local s
  for s in vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys \
    kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv4.conf.all.route_localnet \
    net.bridge.bridge-nf-call-iptables; do
    echo "$s=$(sysctl -n "$s")"
  done >"$KC/sysctl.orig"
}

host_net() {
  local d
  for d in "${HOST_PATHS[@]}"; do
    [ -e "$d" ] || grep -qx "$d" "$KC/hostpaths.created" 2>/dev/null || echo "$d" >>"$KC/hostpaths.created"
  done
  # The CNI bridge, made up front: kubelet refuses a loopback node IP and wants one on a local
  # interface, so 10.244.0.1 (the pods' gateway) is the node IP.
  ip link show "$BR" >/dev/null 2>&1 || ip link add "$BR" type bridge
  ip addr replace "$NODE_IP/24" dev "$BR" # idempotent (a half-torn-down cluster keeps its bridge)
  ip link set "$BR" up
  # ClusterIPs go into the bridge (source 10.244.0.1), never to the default route: the host reaches
  # Services the way a pod does (kube-proxy's OUTPUT DNAT), e.g. the load balancer's ClusterIP.
  ip route replace "$SVC_CIDR" dev "$BR" src "$NODE_IP"
  # pod -> ClusterIP -> pod on the same bridge must pass iptables (kube-proxy's DNAT).
  sysctl -qw net.bridge.bridge-nf-call-iptables=1
  # Containment. Nothing from a pod leaves through another interface (the mangle table: kube-proxy
  # never touches it) ...
  iptables -t mangle -C FORWARD -i "$BR" ! -o "$BR" -j DROP 2>/dev/null ||
    iptables -t mangle -A FORWARD -i "$BR" ! -o "$BR" -j DROP
  # ... and pods reach only these services of the host itself: cluster DNS (dnsmasq) and the API
  # (socat bridge); replies to connections the host opened (kubelet probes, the apiserver's
  # proxy/aggregation, tests) are allowed by conntrack. Everything else a process on this machine
  # listens on (0.0.0.0) stays out of the pods' reach.
  iptables -N KCLUSTER-INPUT 2>/dev/null || true
  iptables -F KCLUSTER-INPUT
  iptables -A KCLUSTER-INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  iptables -A KCLUSTER-INPUT -d "$NODE_IP" -p udp --dport 53 -j ACCEPT
  iptables -A KCLUSTER-INPUT -d "$NODE_IP" -p tcp --dport 53 -j ACCEPT
  iptables -A KCLUSTER-INPUT -d "$NODE_IP" -p tcp --dport "$API_PORT" -j ACCEPT
  iptables -A KCLUSTER-INPUT -j DROP
  iptables -C INPUT -i "$BR" -j KCLUSTER-INPUT 2>/dev/null || iptables -I INPUT 1 -i "$BR" -j KCLUSTER-INPUT
  mkdir -p "$CFG/cni" "$KC/cni/ipam"
  # bridge + host-local IPAM: no ipMasq, and the only routes a pod gets are the pod subnet and the
  # Service range via 10.244.0.1 (no default route).
  put "$CFG/cni/10-kcluster.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "kcluster",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BR", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$KC/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP", "rangeStart": "10.244.0.10"}]],
        "routes": [{"dst": "$SVC_CIDR"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}, "snat": false},
    {"type": "loopback"}
  ]
}
EOF
  # hostNetwork pods (and kubelet's resolvConf) get no external DNS server either.
  printf 'nameserver 127.0.0.1\noptions ndots:1\n' | put "$CFG/resolv.conf"
}

# ------------------------------------------------------------------ 5. containerd
start_containerd() {
  mkdir -p "$KC/containerd" "$RUN/containerd"
  put "$CFG/containerd.toml" <<EOF
version = 2
root = "$KC/containerd/root"
state = "$RUN/containerd"
[grpc]
  address = "$RUN/containerd/containerd.sock"
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "localhost/pause:3.4"    # compiled from the Kubernetes tree (base-images.sh)
    stream_server_address = "127.0.0.1"       # exec/attach/port-forward streams stay on loopback
    stream_server_port = "0"
    disable_apparmor = true
    # Root here has no CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below containerd's, and
    # the pause container (-998) fails with "can't get final child's PID from pipe: EOF".
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true       # netns under $RUN/containerd, not /var/run/netns
    tolerate_missing_hugetlb_controller = true
    disable_hugetlb_controller = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false                 # cgroupfs driver (no systemd)
          BinaryName = "/usr/bin/runc"
          Root = "$RUN/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$CFG/cni"
      max_conf_num = 1
EOF
  # No registry may be contacted: a pull that is still attempted (an image that was not imported,
  # a :latest tag) goes to a dead proxy on loopback and fails at once, without a DNS lookup.
  start containerd env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=localhost,127.0.0.1 \
    containerd --config "$CFG/containerd.toml"
  wait_for 30 containerd "${CTR[@]}" version
}

import_base_images() {
  # The sandbox image and the debian base (volume recycler pods, test helpers) into containerd.
  local name image tar
  for name in pause debian; do
    tar=$(ls "$KC_CACHE/img/$name-"*.tar | head -1)
    image=$(case $name in pause) echo "$KCLUSTER_PAUSE_IMAGE" ;; debian) echo "$KCLUSTER_DEBIAN_IMAGE" ;; esac)
    "${CTR[@]}" images ls -q | grep -qx "$image" && [ "$(cat "$IMG/$name.imported" 2>/dev/null)" = "$tar" ] && continue
    "${CTR[@]}" images import "$tar" >/dev/null
    echo "$tar" >"$IMG/$name.imported"
  done
}

# ------------------------------------------------------------------ 6. PKI + kubeconfigs
cert() { # cert <name> <subject> <ext> [ca]: a key + certificate signed by ca (default "ca")
  local n=$1 subj=$2 ext=$3 ca=${4:-ca}
  [ -f "$n.crt" ] && return 0
  openssl genrsa -out "$n.key" 2048 2>/dev/null
  openssl req -new -key "$n.key" -subj "$subj" -out "$n.csr"
  printf '%b\n' "$ext" >"$n.ext"
  openssl x509 -req -in "$n.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -days 3650 -extfile "$n.ext" -out "$n.crt" 2>/dev/null
  rm -f "$n.csr"
}
pki() {
  (
    cd "$PKI"
    local c
    for c in ca front-proxy-ca; do
      [ -f "$c.key" ] || {
        openssl genrsa -out "$c.key" 2048 2>/dev/null
        openssl req -x509 -new -key "$c.key" -days 3650 -subj "/CN=kcluster-$c" -out "$c.crt"
      }
    done
    cert apiserver "/CN=kube-apiserver" "subjectAltName=IP:127.0.0.1,IP:$NODE_IP,IP:$SVC_API_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth"
    # apiserver -> kubelet (exec, logs, port-forward)
    cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth"
    # Aggregation layer: the apiserver proxies /apis/<aggregated group> to the APIService's Service
    # with this client certificate and the user in X-Remote-User/-Group/-Extra-* headers; extension
    # servers trust it through the ConfigMap kube-system/extension-apiserver-authentication.
    cert front-proxy-client "/CN=front-proxy-client" "extendedKeyUsage=clientAuth" front-proxy-ca
    [ -f sa.key ] || openssl genrsa -out sa.key 2048 2>/dev/null
    [ -f sa.pub ] || openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    # Static bearer tokens, one identity per component (the bootstrap RBAC roles know these users).
    if [ ! -f tokens.csv ]; then
      local u file user group tok
      for u in "admin,admin,system:masters" "kubelet,system:node:$NODE,system:nodes" \
        "scheduler,system:kube-scheduler," "kcm,system:kube-controller-manager," "proxy,system:kube-proxy,"; do
        tok=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
        IFS=, read -r file user group <<<"$u"
        echo "$tok" >"token.$file"
        echo "$tok,$user,$user${group:+,\"$group\"}" >>tokens.csv
      done
    fi
    chmod 600 ./*.key token.* tokens.csv
  )
  local f
  for f in admin kubelet scheduler kcm proxy; do
    put "$CFG/$f.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kcluster
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: $f
  user: {token: "$(cat "$PKI/token.$f")"}
contexts:
- name: kcluster
  context: {cluster: kcluster, user: $f, namespace: default}
current-context: kcluster
EOF
    chmod 600 "$CFG/$f.kubeconfig"
  done
}

# ------------------------------------------------------------------ 7. control plane
api_ready() { curl -sf --cacert "$PKI/ca.crt" -H "Authorization: Bearer $(cat "$PKI/token.admin")" "https://127.0.0.1:$API_PORT/readyz"; }
start_control_plane() {
  mkdir -p "$KC/etcd-data"
  start etcd etcd --name kc --data-dir "$KC/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "kc=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls ""
  wait_for 30 etcd curl -sf "http://127.0.0.1:$ETCD_PORT/health"

  # Listens on loopback only, advertises 10.244.0.1 (Endpoints reject loopback): the "kubernetes"
  # Service (10.96.0.1:443) points there, and a socat on 10.244.0.1 forwards to 127.0.0.1, so pods
  # (the operator, client libraries with in-cluster config) reach the API.
  # --enable-aggregator-routing: APIServices are proxied to their Service's endpoint (pod) IPs,
  # which this host routes to directly (kcbr0), rather than through the ClusterIP.
  start kube-apiserver "$BIN/kube-apiserver" \
    --bind-address=127.0.0.1 --advertise-address="$NODE_IP" --secure-port="$API_PORT" --insecure-port=0 \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --token-auth-file="$PKI/tokens.csv" \
    --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NodeRestriction \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range="$SVC_CIDR" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
    --enable-aggregator-routing=true \
    --allow-privileged=true \
    --feature-gates="$FEATURE_GATES"
  wait_for 120 kube-apiserver api_ready

  # The hostPath volume recycler (reclaimPolicy Recycle of our PVs) runs this pod instead of the
  # default busybox one from a registry: our debian image, already in containerd.
  put "$CFG/recycler-pod.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: pv-recycler, namespace: default}
spec:
  restartPolicy: Never
  activeDeadlineSeconds: 60
  volumes: [{name: vol, hostPath: {path: /replaced/by/the/recycler}}]
  containers:
  - name: pv-recycler
    image: $KCLUSTER_DEBIAN_IMAGE
    imagePullPolicy: IfNotPresent
    command: ["/bin/sh", "-c", "test -e /scrub && find /scrub -mindepth 1 -delete && test -z \"\$(ls -A /scrub)\" || exit 1"]
    volumeMounts: [{name: vol, mountPath: /scrub}]
EOF
  # Every default controller (HPA, PV binder/recycler, disruption, garbage collector, ...).
  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$CFG/kcm.kubeconfig" \
    --authentication-kubeconfig="$CFG/kcm.kubeconfig" --authorization-kubeconfig="$CFG/kcm.kubeconfig" \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --use-service-account-credentials=true \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --pv-recycler-pod-template-filepath-hostpath="$CFG/recycler-pod.yaml" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=0 --port=0 \
    --feature-gates="$FEATURE_GATES"

  start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig="$CFG/scheduler.kubeconfig" \
    --authentication-kubeconfig="$CFG/scheduler.kubeconfig" --authorization-kubeconfig="$CFG/scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=0 --port=0
}

# ------------------------------------------------------------------ 8. kubelet + kube-proxy
start_kubelet() {
  mkdir -p "$KC/kubelet"
  put "$CFG/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
cgroupsPerQOS: true
failSwapOn: false
resolvConf: "$CFG/resolv.conf"
clusterDomain: cluster.local
clusterDNS: [$NODE_IP]
hairpinMode: hairpin-veth
serializeImagePulls: false
evictionHard: {memory.available: "200Mi", nodefs.available: "5%", imagefs.available: "5%"}
# No image garbage collection: every image here is imported (no registry to pull it back from), and
# on a disk shared with builds the default 85 % threshold removed even the pause image mid-run.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
featureGates: {ProcMountType: true}
EOF
  running kubelet || KUBELET_T0=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  start kubelet "$BIN/kubelet" \
    --config="$CFG/kubelet.yaml" \
    --kubeconfig="$CFG/kubelet.kubeconfig" \
    --root-dir="$KC/kubelet" --cert-dir="$KC/kubelet/pki" \
    --container-runtime=remote \
    --container-runtime-endpoint="unix://$RUN/containerd/containerd.sock" \
    --hostname-override="$NODE" --node-ip="$NODE_IP" \
    --v=1
}

start_proxy() {
  put "$CFG/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$CFG/proxy.kubeconfig"}
mode: iptables
hostnameOverride: $NODE
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: $POD_CIDR
nodePortAddresses: ["$NODE_IP/32"]
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  start kube-proxy "$BIN/kube-proxy" --config="$CFG/kube-proxy.yaml"
}

start_api_bridge() {
  start api-bridge socat "TCP-LISTEN:$API_PORT,bind=$NODE_IP,reuseaddr,fork" "TCP:127.0.0.1:$API_PORT"
}

start_dns() {
  # bookworm has no CoreDNS: dnsmasq answers from a hosts file only (no upstream servers, no
  # /etc/hosts, nothing forwarded off the machine), and a loop rewrites that file from the Service
  # list: <svc>.<ns>.svc.cluster.local and <svc>.<ns>.svc -> ClusterIP. No headless/pod/SRV records.
  mkdir -p "$KC/dns"
  touch "$KC/dns/hosts"
  chmod 644 "$KC/dns/hosts"
  start dnsmasq dnsmasq --keep-in-foreground --log-facility=- --pid-file= --user=root \
    --listen-address="$NODE_IP" --bind-interfaces --port=53 --no-resolv --no-hosts --no-poll \
    --addn-hosts="$KC/dns/hosts" --local=/cluster.local/ --local=/svc/ --domain-needed --bogus-priv --cache-size=0
  put "$CFG/dns-sync.sh" <<EOS
#!/bin/bash
# $KC: regenerate dns/hosts from the Service list every 2 s; SIGHUP dnsmasq when it changed
while sleep 2; do
  curl -sf --cacert "$PKI/ca.crt" -H "Authorization: Bearer \$(cat "$PKI/token.admin")" \\
    "https://127.0.0.1:$API_PORT/api/v1/services" |
  jq -r '.items[] | select(.spec.clusterIP != null and .spec.clusterIP != "None") |
         "\(.spec.clusterIP) \(.metadata.name).\(.metadata.namespace).svc.cluster.local \(.metadata.name).\(.metadata.namespace).svc"' |
    sort >"$KC/dns/hosts.new" || continue
  if ! cmp -s "$KC/dns/hosts.new" "$KC/dns/hosts"; then
    mv "$KC/dns/hosts.new" "$KC/dns/hosts"; chmod 644 "$KC/dns/hosts"
    kill -HUP "\$(awk '\$1=="dnsmasq"{p=\$2} END{print p}' "$PIDS")" 2>/dev/null
  fi
done
EOS
  start dns-sync bash "$CFG/dns-sync.sh"
}

# ------------------------------------------------------------------ 9. storage
storage() {
  # hostPath PersistentVolumes under $KC/pv, offered through the default StorageClass
  # kcluster-local (what a PVC without storageClassName gets, e.g. Redis's volumeClaimTemplate).
  # Released volumes are scrubbed by the controller-manager's recycler and become Available again.
  local i
  {
    cat <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: kcluster-local
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
EOF
    for i in $(seq 1 "$PV_COUNT"); do
      mkdir -p "$KC/pv/pv-$i"
      chmod 0777 "$KC/pv/pv-$i" # any pod uid (fsGroup does not apply to hostPath)
      cat <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: kcluster-pv-$i, labels: {kcluster/volume: "pv-$i"}}
spec:
  storageClassName: kcluster-local
  capacity: {storage: $PV_SIZE}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Recycle
  hostPath: {path: "$KC/pv/pv-$i", type: Directory}
EOF
    done
  } | kubectl_ apply -f - >/dev/null
}

KUBELET_T0=""
node_ready() { # Ready=True, reported by the kubelet we just started (not a stale status in etcd)
  local r
  r=$(kubectl_ get node "$NODE" -o jsonpath='{range .status.conditions[?(@.type=="Ready")]}{.status} {.lastHeartbeatTime}{end}' 2>/dev/null)
  [ "${r%% *}" = True ] || return 1
  [ -z "$KUBELET_T0" ] || [[ ! "${r#* }" < "$KUBELET_T0" ]]
}
default_sa() { kubectl_ -n default get serviceaccount default; }

write_env() {
  put "$CFG/env" <<EOF
export KUBECONFIG=$CFG/admin.kubeconfig
export CONTAINERS_STORAGE_CONF=$STORAGE_CONF
export CONTAINERD_ADDRESS=$RUN/containerd/containerd.sock
export CONTAINERD_NAMESPACE=k8s.io
export KCLUSTER_DIR=$KC
export KCLUSTER_DEBIAN_IMAGE=$KCLUSTER_DEBIAN_IMAGE
export KCLUSTER_NODE_IMAGE=$KCLUSTER_NODE_IMAGE
export KCLUSTER_NODE_IP=$NODE_IP
EOF
}

# ------------------------------------------------------------------ main
# forget PIDs that are no longer alive (a re-run keeps the live ones, starts only what is missing)
while read -r n p; do alive_pid "$n" "$p" && echo "$n $p"; done <"$PIDS" >"$PIDS.tmp" || true
mv "$PIDS.tmp" "$PIDS"
timed "apt packages" install_packages
timed "binaries (build/restore)" ensure_binaries
storage_conf
timed "base images (build/restore)" bash "$KCLUSTER_TOOLS/base-images.sh"
. "$CFG/base-images.env"
write_env
save_sysctls
host_net
timed "containerd start" start_containerd
timed "ctr import base images" import_base_images
pki
timed "control plane ready" start_control_plane
start_api_bridge
start_dns
timed "kubelet start" start_kubelet
timed "node Ready" wait_for 180 "node $NODE Ready" node_ready
start_proxy
timed "storage" storage
wait_for 60 "the default ServiceAccount" default_sa
printf '%-28s %7d s\n' "TOTAL up.sh" "$(($(date +%s) - T_START))" | tee -a "$LOG/up.timings"
log "cluster up: . $KCLUSTER_TOOLS/env.sh   (or KUBECONFIG=$CFG/admin.kubeconfig); stop with down.sh"
