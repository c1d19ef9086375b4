#!/usr/bin/env bash
# A simulated datacenter in network namespaces:
#   node (10.0.0.10) ── core switch/firewall (ID-router, 10.0.0.1) ── line/VBR (ID-vbr, 172.31.255.2) ── cloud
# The core↔VBR link is the line (Express Connect); the VBR↔cloud link is the cloud's side of it.
# The cloud namespace serves SPEC's cn-hangzhou example with real servers: dnsmasq (VPC DNS),
# chronyd (NTP), nginx with TLS (registry, OSS, control plane, API server, a package mirror).
# Nothing here routes to the host namespace or the outside: the node's only routes lead into the lab.
#
#   lab.sh up | down | clear | fault NAME... | node CMD... | cloud CMD... | status
#   lab.sh fleet N PUBKEY   N more nodes (ID-f1.., 10.0.1X.10) each running sshd with PUBKEY
#                           authorized for root, and a controller namespace ID-ctl (10.0.9.10)
#
# LAB_ID picks the namespace names (default: aep); LAB_DIR holds configs, pids and logs.
set -euo pipefail

ID=${LAB_ID:-aep}
NODE=$ID-node ROUTER=$ID-router CLOUD=$ID-cloud
DIR=${LAB_DIR:-/tmp/$ID-lab}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The example of seeds/dedicated-line-network-and-endpoints.ja.txt (cn-hangzhou).
CP=100.103.42.233 REG1=100.103.9.188 REG2=100.103.7.181 OSS=100.118.28.10 VPCDNS=100.100.2.136
API=192.168.0.10 PEER=192.168.0.20 NTP1=198.18.0.123 NTP2=198.18.0.124 MIRROR=198.18.0.80 PUBLIC=198.18.1.1
# the registry's token service (the realm of its 401) and the storage host its blob requests are
# redirected to: for Alibaba Cloud's registry, hosts other than the registry's own
TOKEN=100.103.9.200 STORAGE=100.103.20.10
CLOUD_ADDRS="$CP $REG1 $REG2 $OSS $VPCDNS $API $PEER $NTP1 $NTP2 $MIRROR $PUBLIC $TOKEN $STORAGE"
# a VPC host beside the cloud services (its own namespace, ID-vpc): the kernel VXLAN peer of the
# real-client truth (lab.sh truth); the responder on $PEER holds UDP 8472 in the cloud namespace
VPCHOST=192.168.100.20
REGNAME=registry-cn-hangzhou-vpc.ack.aliyuncs.com TOKENNAME=dockerauth-vpc.cn-hangzhou.aliyuncs.com
STORAGENAME=registry-storage-cn-hangzhou.lab.test OSSNAME=aliacs-k8s-cn-hangzhou.oss-cn-hangzhou-internal.aliyuncs.com
IMAGE=acs/pause:3.9

in_node() { ip netns exec "$NODE" "$@"; }
in_router() { ip netns exec "$ROUTER" "$@"; }
in_vbr() { ip netns exec "$ID-vbr" "$@"; }
in_cloud() { ip netns exec "$CLOUD" "$@"; }
in_vpc() { ip netns exec "$ID-vpc" "$@"; }
log() { echo "lab: $*" >&2; }

hosts_file() {
  cat <<H
$CP cs-anony-vpc.cn-hangzhou.aliyuncs.com
$OSS aliacs-k8s-cn-hangzhou.oss-cn-hangzhou-internal.aliyuncs.com
$REG1 registry-cn-hangzhou-vpc.ack.aliyuncs.com
$REG2 registry-cn-hangzhou-vpc.ack.aliyuncs.com
$NTP1 ntp1.aliyun.com
$NTP2 cn.ntp.org.cn
$MIRROR mirror.lab.test
$API apiserver.lab.test
$TOKEN $TOKENNAME
$STORAGE $STORAGENAME
H
}

make_pki() {
  local p=$DIR/pki
  mkdir -p "$p"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=ACK Edge Lab CA" \
    -keyout "$p/ca.key" -out "$p/ca.pem" 2>/dev/null
  # a second, untrusted CA: a TLS-intercepting middlebox
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Interception Proxy CA" \
    -keyout "$p/evil-ca.key" -out "$p/evil-ca.pem" 2>/dev/null
  local san="DNS:registry-cn-hangzhou-vpc.ack.aliyuncs.com,DNS:aliacs-k8s-cn-hangzhou.oss-cn-hangzhou-internal.aliyuncs.com"
  san="$san,DNS:cs-anony-vpc.cn-hangzhou.aliyuncs.com,DNS:apiserver.lab.test,IP:$API,IP:$REG1,IP:$REG2,IP:$OSS,IP:$CP"
  san="$san,DNS:$TOKENNAME,DNS:$STORAGENAME"
  for ca in ca evil-ca; do
    openssl req -newkey rsa:2048 -nodes -subj "/CN=lab services" -keyout "$p/$ca-server.key" -out "$p/$ca-server.csr" 2>/dev/null
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" >"$p/ext.cnf"
    openssl x509 -req -in "$p/$ca-server.csr" -CA "$p/$ca.pem" -CAkey "$p/$ca.key" -CAcreateserial \
      -days 30 -extfile "$p/ext.cnf" -out "$p/$ca-server.pem" 2>/dev/null
  done
  cp "$p/ca-server.pem" "$p/server.pem"
  cp "$p/ca-server.key" "$p/server.key"
  # the token service's signing key; the registry trusts its certificate (rootcertbundle)
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=lab token signer" \
    -keyout "$p/token.key" -out "$p/token.pem" 2>/dev/null
  # where skopeo looks for the CA of a registry (--src-cert-dir / --dest-cert-dir)
  mkdir -p "$DIR/certs"; cp "$p/ca.pem" "$DIR/certs/ca.crt"
}

registry_conf() {
  cat <<R
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage:
  filesystem: { rootdirectory: $DIR/registry }
  redirect: { disable: false }
middleware:
  storage:
    - name: redirect
      options: { baseurl: "https://$STORAGENAME" }
http:
  addr: 127.0.0.1:5000
  host: https://$REGNAME
  secret: lab-registry-secret
auth:
  token:
    realm: https://$TOKENNAME/auth
    service: $REGNAME
    issuer: lab-token-service
    rootcertbundle: $DIR/pki/token.pem
R
}

nginx_conf() {
  cat <<N
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/nginx-error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $DIR/nginx-tmp;
  proxy_temp_path $DIR/nginx-tmp;
  fastcgi_temp_path $DIR/nginx-tmp;
  uwsgi_temp_path $DIR/nginx-tmp;
  scgi_temp_path $DIR/nginx-tmp;
  ssl_certificate $DIR/pki/server.pem;
  ssl_certificate_key $DIR/pki/server.key;
  default_type text/plain;
N
  if [ -e "$DIR/registry-plain" ]; then
    cat <<N
  server {  # a plain web server where the registry should be
    listen $REG1:443 ssl; listen $REG2:443 ssl; listen $PUBLIC:443 ssl;
    location / { return 200 '<html>Welcome to nginx!</html>'; }
  }
N
  else
    cat <<N
  server {  # the container registry (Distribution, token authentication) behind the TLS front
    listen $REG1:443 ssl; listen $REG2:443 ssl; listen $PUBLIC:443 ssl;
    client_max_body_size 0;
    location /v2/ {
      proxy_pass http://127.0.0.1:5000; proxy_set_header Host \$host; proxy_set_header X-Forwarded-Proto https;
      proxy_buffering off; proxy_request_buffering off; proxy_http_version 1.1;
    }
    location / { return 404; }
  }
N
  fi
  cat <<N
  server {  # OSS internal endpoint: 403 with x-oss-request-id; /lab/ serves a multi-megabyte object
    listen $OSS:443 ssl; listen $OSS:80;
    location /lab/ { root $DIR/oss; add_header x-oss-request-id 6540B1E2C0FFEE0002 always; }
    location / { add_header x-oss-request-id 6540B1E2C0FFEE0001 always; return 403 '<Error><Code>AccessDenied</Code></Error>'; }
  }
  server {  # the storage host the registry redirects blob requests to (its filesystem, read-only)
    listen $STORAGE:443 ssl;
N
  # hostile storage hosts (lab faults): a redirect to itself, into the metadata service's
  # link-local address, or a blob that trickles at 2 KB/s
  case $(cat "$DIR/storage-mode" 2>/dev/null) in
    loop) echo "    location /docker/registry/v2/blobs/ { return 302 https://$STORAGENAME\$request_uri; }" ;;
    metadata) echo "    location /docker/registry/v2/blobs/ { return 307 https://169.254.169.254/latest/meta-data/; }" ;;
    trickle) echo "    location /docker/registry/v2/blobs/ { root $DIR/registry; default_type application/octet-stream; limit_rate 2k; }" ;;
    *) echo "    location /docker/registry/v2/blobs/ { root $DIR/registry; default_type application/octet-stream; }" ;;
  esac
  cat <<N
    location / { return 403; }
  }
  server { listen $CP:443 ssl; listen $CP:80; location / { return 404; } }
  server {  # the API server: discovery's cluster-info for anonymous requests, 403 for the rest
    listen $API:6443 ssl;
    location = /api/v1/namespaces/kube-public/configmaps/cluster-info {
      if (-f $DIR/discovery-off) {
        return 403 '{"kind":"Status","apiVersion":"v1","status":"Failure","message":"configmaps cluster-info is forbidden: User system:anonymous cannot get resource configmaps in the namespace kube-public","reason":"Forbidden","code":403}';
      }
      default_type application/json; alias $DIR/cluster-info.json;
    }
    location / { return 403 '{"kind":"Status","code":403}'; }
  }
  server { listen $MIRROR:80; location / { return 200 'lab package mirror'; } }
}
N
}

chrony_conf() {
  cat <<C
local stratum 8
allow all
cmdport 0
bindcmdaddress /
pidfile $DIR/chronyd.pid
driftfile $DIR/chrony.drift
C
}

make_sysroot() {
  # The node's host files as the agent reads them (--sysroot): package sources, cron, tool stubs.
  local r=$DIR/root
  rm -rf "$r"
  mkdir -p "$r/etc/apt/sources.list.d" "$r/etc/yum.repos.d" "$r/usr/sbin" "$r/usr/bin"
  echo "deb http://mirror.lab.test/debian bookworm main" >"$r/etc/apt/sources.list"
  printf '[lab]\nname=lab\nbaseurl=http://mirror.lab.test/centos/$releasever/\nenabled=1\n' >"$r/etc/yum.repos.d/lab.repo"
  echo "# /etc/crontab" >"$r/etc/crontab"
  # the node runs an OS the documents list for edge nodes (host.os): CentOS 7.8, whose row names no
  # kernel line, so the machine's own kernel does not make it a warning
  printf 'NAME="CentOS Linux"\nVERSION="7 (Core)"\nID="centos"\nVERSION_ID="7"\nPRETTY_NAME="CentOS Linux 7 (Core)"\n' >"$r/etc/os-release"
  echo "CentOS Linux release 7.8.2003 (Core)" >"$r/etc/centos-release"

  # the host checks: the node's hostname on its line address, forwarding persisted, the resolver the
  # namespace really uses (ip netns exec bind-mounts /etc/netns/NODE/resolv.conf over /etc/resolv.conf)
  mkdir -p "$r/etc/sysctl.d"
  printf '127.0.0.1 localhost\n10.0.0.10 %s\n' "$(cat /proc/sys/kernel/hostname)" >"$r/etc/hosts"
  echo "net.ipv4.ip_forward = 1" >"$r/etc/sysctl.d/99-kubernetes.conf"
  ln -sf /etc/resolv.conf "$r/etc/resolv.conf"
  for t in netstat ifconfig route ip chronyd chronyc crond crontab lspci socat ebtables iptables conntrack; do
    printf '#!/bin/sh\nexit 0\n' >"$r/usr/sbin/$t"
    chmod 755 "$r/usr/sbin/$t"
  done
}

up() {
  [ "$(id -u)" = 0 ] || { echo "lab: needs root (network namespaces)" >&2; exit 77; }
  down >/dev/null 2>&1 || true
  mkdir -p "$DIR/nginx-tmp" "/etc/netns/$NODE"
  echo "nameserver $VPCDNS" >"/etc/netns/$NODE/resolv.conf"
  ip netns add "$NODE"; ip netns add "$ROUTER"; ip netns add "$ID-vbr"; ip netns add "$CLOUD"
  ip link add n0 netns "$NODE" type veth peer name rn netns "$ROUTER"
  ip link add rv netns "$ROUTER" type veth peer name vr netns "$ID-vbr"
  ip link add vc netns "$ID-vbr" type veth peer name c0 netns "$CLOUD"
  # a second line (Express Connect is built in pairs): used as an ECMP next hop by the 'ecmp' fault
  ip link add n1 netns "$NODE" type veth peer name rn1 netns "$ROUTER"
  in_node ip link set lo up; in_router ip link set lo up; in_vbr ip link set lo up; in_cloud ip link set lo up
  in_node ip addr add 10.0.0.10/24 dev n0; in_node ip link set n0 up
  in_router ip addr add 10.0.0.1/24 dev rn; in_router ip link set rn up
  in_node ip addr add 10.0.1.10/24 dev n1; in_node ip link set n1 up
  in_router ip addr add 10.0.1.1/24 dev rn1; in_router ip link set rn1 up
  in_router ip addr add 172.31.255.1/30 dev rv; in_router ip link set rv up
  in_vbr ip addr add 172.31.255.2/30 dev vr; in_vbr ip link set vr up
  in_vbr ip addr add 10.255.0.1/30 dev vc; in_vbr ip link set vc up
  in_cloud ip addr add 10.255.0.2/30 dev c0; in_cloud ip link set c0 up
  # the core switch routes cloud services, the VPC and the lab's "public" range over the line
  for net in 100.0.0.0/8 192.168.0.0/16 198.18.0.0/15; do
    in_node ip route add $net via 10.0.0.1
    in_router ip route add $net via 172.31.255.2
    in_vbr ip route add $net via 10.255.0.2
  done
  in_vbr ip route add 10.0.0.0/8 via 172.31.255.1
  in_router sysctl -qw net.ipv4.ip_forward=1
  in_vbr sysctl -qw net.ipv4.ip_forward=1
  # the lab's routers answer every TTL-limited probe (real routers rate-limit ICMP; the sweep reads
  # a silent hop as a gap, tested on a fake path)
  in_router sysctl -qw net.ipv4.icmp_ratelimit=0; in_vbr sysctl -qw net.ipv4.icmp_ratelimit=0
  in_node sysctl -qw net.ipv4.ip_forward=1  # a node ready to join forwards (host.sysctl)
  # the node's default route also leads to the core switch, which routes only lab ranges: nothing
  # leaves the lab, and the kubelet / Flannel find their address and interface as on a real node
  in_node ip route add default via 10.0.0.1
  for a in $CLOUD_ADDRS; do in_cloud ip addr add "$a/32" dev lo; done
  in_cloud ip route add 10.0.0.0/8 via 10.255.0.1 src $PEER  # VPC hosts reach the datacenter from the VPC CIDR
  in_cloud ip route add 172.31.255.0/30 via 10.255.0.1
  ip netns add "$ID-vpc"
  ip link add cv netns "$CLOUD" type veth peer name v0 netns "$ID-vpc"
  in_vpc ip link set lo up
  in_cloud ip addr add 192.168.100.1/24 dev cv; in_cloud ip link set cv up
  in_vpc ip addr add $VPCHOST/24 dev v0; in_vpc ip link set v0 up
  in_vpc ip route add default via 192.168.100.1
  in_cloud sysctl -qw net.ipv4.ip_forward=1

  make_pki
  make_cluster_info
  make_sysroot
  hosts_file >"$DIR/hosts"
  in_cloud dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --addn-hosts="$DIR/hosts" \
    --listen-address=$VPCDNS --bind-interfaces --pid-file="$DIR/dnsmasq.pid" --user=root \
    --local=/aliyuncs.com/ --local=/aliyun.com/ --local=/ntp.org.cn/ --local=/lab.test/ \
    --log-facility="$DIR/dnsmasq.log"
  chrony_conf >"$DIR/chrony.conf"
  in_cloud chronyd -f "$DIR/chrony.conf" -x -u root
  mkdir -p "$DIR/oss/lab" "$DIR/registry"
  head -c $((8 << 20)) /dev/urandom >"$DIR/oss/lab/object-8m"
  nginx_conf >"$DIR/nginx.conf"
  in_cloud nginx -c "$DIR/nginx.conf" -p "$DIR"
  registry_conf >"$DIR/registry.yml"
  in_cloud docker-registry serve "$DIR/registry.yml" </dev/null >"$DIR/registry.log" 2>&1 &
  in_cloud python3 "$HERE/token_service.py" $TOKEN "$DIR/pki/server.pem" "$DIR/pki/server.key" \
    "$DIR/pki/token.key" lab-token-service "$DIR/token-no-anon" </dev/null >"$DIR/token.log" 2>&1 &
  # wait for the servers
  for _ in $(seq 100); do
    [ -s "$DIR/nginx.pid" ] && [ -s "$DIR/dnsmasq.pid" ] && [ -s "$DIR/chronyd.pid" ] \
      && grep -q listening "$DIR/token.log" && in_cloud bash -c ': </dev/tcp/127.0.0.1/5000' 2>/dev/null && break
    sleep 0.1
  done
  # a small image of a few megabytes, pushed as a CI pipeline would (Basic credentials at the token service)
  python3 "$HERE/make_image.py" "$DIR/image" 3.9 $((3 << 20))
  in_node timeout 60 skopeo --insecure-policy copy --quiet --dest-creds lab:lab --dest-cert-dir "$DIR/certs" \
    "oci:$DIR/image:3.9" "docker://$REGNAME/$IMAGE" >"$DIR/push.log" 2>&1 \
    || { echo "lab: pushing the lab image failed: $(cat "$DIR/push.log" "$DIR/registry.log" "$DIR/token.log")" >&2; exit 1; }
  log "up: $NODE (10.0.0.10) -> $ROUTER -> $CLOUD ($CLOUD_ADDRS)"
}

# the cluster-info ConfigMap the lab's API server publishes for discovery, signed for the lab's
# bootstrap token by tests/lab/cluster_info.py (Python's hmac: not the agent's implementation);
# SERVER defaults to the API server itself
LAB_TOKEN=abcdef.0123456789abcdef
make_cluster_info() {
  python3 "$HERE/cluster_info.py" "$DIR/pki/ca.pem" "${1:-https://$API:6443}" "$DIR/cluster-info.json" "${@:2}"
}

kill_pidfile() { [ -s "$1" ] && kill "$(cat "$1")" 2>/dev/null || true; rm -f "$1"; }

# undo the long line (fault long-line)
clear_delay() {
  kill_pidfile "$DIR/delay.pid"
  for pref in 100 101 102; do in_router ip rule del pref $pref 2>/dev/null || true; done
  for t in 200 201 202; do in_router ip route flush table $t 2>/dev/null || true; done
  in_router ip link del dl 2>/dev/null || true
}

all_ns() { ip netns list | awk '{print $1}' | grep "^$ID-" || true; }

down() {
  for ns in $(all_ns); do
    if ip netns list | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    fi
  done
  sleep 0.2
  for ns in $(all_ns); do
    if ip netns list | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns del "$ns"
    fi
  done
  rm -rf "/etc/netns/$NODE" "$DIR"
  for d in /etc/netns/"$ID"-f*; do [ -d "$d" ] && rm -rf "$d"; done
  log "down"
}

clear_faults() {
  in_router iptables -F FORWARD
  in_router iptables -F OUTPUT
  in_router iptables -t mangle -F FORWARD
  in_router iptables -t nat -F POSTROUTING
  in_vbr iptables -F FORWARD; in_vbr iptables -F OUTPUT
  in_router ip route del unreachable 100.118.0.0/16 2>/dev/null || true
  in_cloud ip route replace 10.0.0.0/8 via 10.255.0.1 src $PEER
  in_vbr ip route replace 10.0.0.0/8 via 172.31.255.1
  clear_delay
  in_router iptables -P FORWARD ACCEPT
  in_node ip route flush table main 2>/dev/null || true
  in_node ip route add 10.0.0.0/24 dev n0 proto kernel scope link src 10.0.0.10 2>/dev/null || true
  in_node ip route add 10.0.1.0/24 dev n1 proto kernel scope link src 10.0.1.10 2>/dev/null || true
  for net in 100.0.0.0/8 192.168.0.0/16 198.18.0.0/15; do in_node ip route replace $net via 10.0.0.1; done
  in_node ip route replace default via 10.0.0.1
  in_node iptables -F; in_node iptables -P INPUT ACCEPT; in_node iptables -P FORWARD ACCEPT
  in_node sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.n0.rp_filter=0 net.ipv4.conf.n1.rp_filter=0
  in_node sysctl -qw net.ipv4.ip_local_port_range="32768 60999"
  in_node ip addr del 100.64.0.5/10 dev n0 2>/dev/null || true
  in_node ip addr del 169.254.2.1/32 dev n1 2>/dev/null || true
  in_router ip link set rv mtu 1500; in_vbr ip link set vr mtu 1500
  in_vbr ip link set vc mtu 1500; in_cloud ip link set c0 mtu 1500
  echo "nameserver $VPCDNS" >"/etc/netns/$NODE/resolv.conf"
  hosts_file >"$DIR/hosts"; kill -HUP "$(cat "$DIR/dnsmasq.pid")"
  kill_pidfile "$DIR/listener.pid"
  rm -f "$DIR/token-no-anon" "$DIR/truth-creds" "$DIR/discovery-off"
  make_cluster_info "https://$API:6443" $LAB_TOKEN
  # nothing runs in the node namespace between scenarios (a busy-port listener, say)
  for pid in $(ip netns pids "$NODE" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  make_sysroot
  in_node ip route flush cache 2>/dev/null || true
  if ! cmp -s "$DIR/pki/server.pem" "$DIR/pki/ca-server.pem" || [ -e "$DIR/registry-plain" ] || [ -e "$DIR/storage-mode" ]; then
    cp "$DIR/pki/ca-server.pem" "$DIR/pki/server.pem"; cp "$DIR/pki/ca-server.key" "$DIR/pki/server.key"
    rm -f "$DIR/registry-plain" "$DIR/storage-mode"; nginx_conf >"$DIR/nginx.conf"
    kill -HUP "$(cat "$DIR/nginx.pid")"; sleep 0.3
  fi
}

fault() {
  [ "${LAB_SKIP_FAULTS:-0}" = 1 ] && { log "LAB_SKIP_FAULTS=1: not injecting $*"; return 0; }
  for f in "$@"; do
    case $f in
      dns-down) in_router iptables -I FORWARD -p udp --dport 53 -j DROP
                in_router iptables -I FORWARD -p tcp --dport 53 -j DROP ;;
      dns-public) sed -i "s/^$REG1 registry/$PUBLIC registry/; /^$REG2 registry/d" "$DIR/hosts"
                  kill -HUP "$(cat "$DIR/dnsmasq.pid")" ;;
      dns-nxdomain) sed -i '/cs-anony-vpc/d' "$DIR/hosts"; kill -HUP "$(cat "$DIR/dnsmasq.pid")" ;;
      resolver-wrong) echo "nameserver 100.100.2.138" >"/etc/netns/$NODE/resolv.conf" ;;
      api-filtered) in_router iptables -I FORWARD -p tcp -d $API --dport 6443 -j DROP ;;
      api-refused) in_router iptables -I FORWARD -p tcp -d $API --dport 6443 -j REJECT --reject-with tcp-reset ;;
      ntp-blocked) in_router iptables -I FORWARD -p udp --dport 123 -j DROP ;;
      oss-blocked) in_router iptables -I FORWARD -d 100.118.0.0/16 -j DROP ;;
      # the core switch has an unreachable route for OSS (it answers ICMP network unreachable)
      core-unreachable) in_router ip route add unreachable 100.118.0.0/16 ;;
      # the same, and the core rate-limits its ICMP errors (as Linux and most routers do): the first
      # two reach the node, the later ones (the sweep's) are dropped
      core-unreachable-ratelimited) in_router ip route add unreachable 100.118.0.0/16
                 in_router iptables -A OUTPUT -p icmp --icmp-type destination-unreachable -m limit --limit 1/hour --limit-burst 2 -j ACCEPT
                 in_router iptables -A OUTPUT -p icmp --icmp-type destination-unreachable -j DROP ;;
      # the registry's token service, or the storage host its blobs are redirected to, dropped
      token-blocked) in_router iptables -I FORWARD -d $TOKEN -j DROP ;;
      storage-blocked) in_router iptables -I FORWARD -d $STORAGE -j DROP ;;
      # discovery: the lab's token expired (the cluster no longer signs for it), the bootstrap
      # kubeconfig names a server the line does not carry, anonymous discovery switched off
      token-expired) make_cluster_info "https://$API:6443" ;;
      kubeconfig-server-public) make_cluster_info "https://198.18.9.9:6443" $LAB_TOKEN ;;
      discovery-off) touch "$DIR/discovery-off" ;;
      # the node runs an operating system the documents do not list for edge nodes
      os-unlisted) printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' >"$DIR/root/etc/os-release" ;;
      # a path-MTU black hole toward the storage host only: once a connection from it has moved
      # 4000 bytes (the TLS handshake and the answer's head pass), its packets over 1400 bytes
      # vanish, with no ICMP; the registry and the API server are fine
      # (ICMP echo replies over 1400 bytes vanish too: large packets of any kind, as a real
      # black hole drops them; the TCP handshake and the first small segments pass)
      storage-pmtu-blackhole) in_router iptables -I FORWARD -s $STORAGE -m length --length 1401:65535 \
                   -m connbytes --connbytes 4000: --connbytes-dir reply --connbytes-mode bytes -j DROP
                 in_router iptables -I FORWARD -s $STORAGE -p icmp -m length --length 1401:65535 -j DROP ;;
      # the token service refuses anonymous pulls; the node has credentials (as imagePullSecrets)
      anon-refused) touch "$DIR/token-no-anon"; echo lab:lab >"$DIR/truth-creds" ;;
      # the cloud side has no route back to the datacenter CIDR (the VBR's, as a missing route in
      # a VBR / CEN / VPC route table): the node's traffic goes out, nothing comes back past the core
      vbr-no-route-back) in_vbr ip route del 10.0.0.0/8 ;;
      # a long line: 120 ms each way between the node and everything over the line (240 ms round
      # trip), by a user-space delay line on the core (tests/lab/delay.py: no netem here); the
      # node's packets go through the TUN device dl and on by policy routing, nothing is lost
      long-line)
        in_router ip tuntap add dev dl mode tun
        in_router sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
        in_router ip link set dl up
        in_router sysctl -qw net.ipv4.conf.dl.rp_filter=0 net.ipv4.conf.rn.rp_filter=0 net.ipv4.conf.rv.rp_filter=0
        ip netns exec "$ROUTER" python3 "$HERE/delay.py" dl 120 </dev/null >"$DIR/delay.log" 2>&1 &
        echo $! >"$DIR/delay.pid"
        for net in 100.0.0.0/8 192.168.0.0/16 198.18.0.0/15; do
          in_router ip route add $net dev dl table 200
          in_router ip route add $net via 172.31.255.2 dev rv table 201
        done
        in_router ip route add 10.0.0.0/24 dev rn table 201
        in_router ip route add 10.0.0.0/24 dev dl table 202
        in_router ip rule add pref 100 iif rn lookup 200
        in_router ip rule add pref 101 iif dl lookup 201
        in_router ip rule add pref 102 iif rv to 10.0.0.0/24 lookup 202
        sleep 0.3 ;;
      # the VBR (the cloud end of the line) drops OSS
      vbr-drops-oss) in_vbr iptables -I FORWARD -d 100.118.0.0/16 -j DROP ;;
      vxlan-blocked) in_router iptables -I FORWARD -p udp --dport 8472 -j DROP ;;
      # the core rejects VXLAN with an ICMP error of its own (an unreachable route, a REJECT rule)
      vxlan-rejected) in_router iptables -I FORWARD -p udp --dport 8472 -j REJECT --reject-with icmp-host-unreachable ;;
      # a VXLAN-aware filter (NSX, a hypervisor's): drops UDP 8472 whose payload starts with the
      # VXLAN I flag (0x08), passes every other UDP 8472 datagram
      vxlan-aware) in_router iptables -I FORWARD -p udp --dport 8472 -m u32 --u32 "0>>22&0x3C@8>>24=0x08" -j DROP ;;
      blackhole-all) in_router iptables -P FORWARD DROP ;;
      route-missing) in_node ip route del 100.0.0.0/8; in_node ip route del default ;;
      # host checks with real state in the node namespace
      fw-input-vxlan) in_node iptables -A INPUT -p udp --dport 8472 -j DROP ;;
      fw-forward-drop) in_node iptables -P FORWARD DROP ;;
      ip-forward-off) in_node sysctl -qw net.ipv4.ip_forward=0 ;;
      # an internet NIC with the default route; the hostname maps to it; the line stays on n0
      second-nic-default) in_node ip route replace default via 10.0.1.1 dev n1
                          sed -i "s/^10.0.0.10 /10.0.1.10 /" "$DIR/root/etc/hosts" ;;
      rp-strict) in_node sysctl -qw net.ipv4.conf.all.rp_filter=1 ;;
      resolver-loopback) echo "nameserver 127.0.0.53" >"/etc/netns/$NODE/resolv.conf" ;;
      proxy-env) printf 'HTTPS_PROXY=http://ops:s3cret@10.0.0.3:3128\nNO_PROXY=100.0.0.0/8,192.168.0.0/16\n' >"$DIR/root/etc/environment" ;;
      # two lines with equal-cost multipath: the cloud range has no top-level gateway
      ecmp) in_node ip route replace 100.0.0.0/8 nexthop via 10.0.0.1 dev n0 nexthop via 10.0.1.1 dev n1 ;;
      route-blackhole) in_node ip route add blackhole $REG1/32 ;;
      port-busy) ip netns exec "$NODE" nc -lk 0.0.0.0 10250 </dev/null >/dev/null 2>&1 &
                 echo $! >"$DIR/listener.pid"
                 for _ in $(seq 50); do in_node grep -qi ':280A 00000000:0000 0A' /proc/net/tcp && break; sleep 0.1; done ;;
      tool-missing) rm -f "$DIR/root/usr/sbin/socat" ;;
      sources-unreachable) in_router iptables -I FORWARD -d $MIRROR -j DROP ;;
      overlap) in_node ip addr add 100.64.0.5/10 dev n0 ;;
      # the core source-NATs the node toward the cloud, and the cloud has no route back to it
      core-snat) in_router iptables -t nat -A POSTROUTING -o rv -s 10.0.0.0/24 -j MASQUERADE
                 in_cloud ip route del 10.0.0.0/8 ;;
      # a datacenter firewall that clamps TCP MSS (what most do in front of a smaller link)
      mss-clamp) in_router iptables -t mangle -I FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1000 ;;
      # something on the node already holds edge-hub's dummy address (169.254.2.1)
      edgehub-addr) in_node ip addr add 169.254.2.1/32 dev n1 ;;
      # Raven's tunnel mode (IPsec NAT-T, UDP 4500) dropped on the way; its proxy ports pass
      raven-udp-blocked) in_router iptables -I FORWARD -p udp --dport 4500 -j DROP ;;
      # one of Raven's proxy ports dropped on the way
      raven-tcp-blocked) in_router iptables -I FORWARD -p tcp --dport 10282 -j DROP ;;
      # the cloud's side of the line is 1400, and the cloud hosts know it (their MSS says so)
      mtu-1400) in_vbr ip link set vc mtu 1400; in_cloud ip link set c0 mtu 1400 ;;
      # random loss on the line (a policer, dirty optics): 5 % of forwarded packets, any size
      lossy) in_router iptables -I FORWARD -m statistic --mode random --probability 0.05 -j DROP ;;
      # a smaller link in the middle (the line between the core and the VBR, both ways) that neither
      # end knows of: the cloud host's interface stays at 1500, its SYN-ACK announces MSS 1460
      mtu-1400-core) in_router ip link set rv mtu 1400; in_vbr ip link set vr mtu 1400 ;;
      # a PMTU black hole: the smaller link stays, the routers' ICMP "fragmentation needed" is dropped
      pmtu-blackhole) in_router iptables -I OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP
                      in_vbr iptables -I OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP ;;
      # cloud VIPs that drop ICMP echo (common): TCP works, ping does not
      icmp-filtered) in_router iptables -I FORWARD -p icmp --icmp-type echo-request -j DROP ;;
      storage-redirect-loop|storage-redirect-metadata|storage-trickle)
        echo "${f#storage-}" | sed 's/^redirect-//' >"$DIR/storage-mode"; nginx_conf >"$DIR/nginx.conf"
        kill -HUP "$(cat "$DIR/nginx.pid")"; sleep 0.3
        # what leaves the node toward link-local is refused here and counted (lab.sh node iptables -L)
        if [ "$f" = storage-redirect-metadata ]; then in_node iptables -I OUTPUT -d 169.254.0.0/16 -j REJECT; fi ;;
      # the node's ephemeral ports narrowed to twenty (the forged-ICMP scenario's flood covers them)
      ports-narrow) in_node sysctl -qw net.ipv4.ip_local_port_range="40000 40019" ;;
      registry-plain) touch "$DIR/registry-plain"; nginx_conf >"$DIR/nginx.conf"; kill -HUP "$(cat "$DIR/nginx.pid")"; sleep 0.3 ;;
      inbound-blocked) in_router iptables -I FORWARD -p tcp -d 10.0.0.10 --dport 10250 -j DROP ;;
      # one node of the fleet cannot reach one registry address
      fleet-registry-drop) in_router iptables -I FORWARD -s 10.0.13.10 -d $REG1 -p tcp --dport 443 -j DROP ;;
      tls-intercept) cp "$DIR/pki/evil-ca-server.pem" "$DIR/pki/server.pem"; cp "$DIR/pki/evil-ca-server.key" "$DIR/pki/server.key"
                     kill -HUP "$(cat "$DIR/nginx.pid")"; sleep 0.3 ;;
      *) echo "lab: unknown fault $f" >&2; exit 2 ;;
    esac
  done
}

# Flannel's VXLAN device on the node and on the VPC host: VNI 1, UDP 8472, MTU 1450, static FDB
# and neighbour entries as flanneld writes them (no learning)
vxlan_up() {
  vxlan_down
  in_node ip link add aepvx type vxlan id 1 dstport 8472 local 10.0.0.10 dev n0 nolearning
  in_node ip link set aepvx address 02:00:0a:00:00:0a mtu 1450 up
  in_node ip addr add 172.30.0.10/24 dev aepvx
  in_node bridge fdb append 02:00:c0:a8:64:14 dev aepvx dst $VPCHOST
  in_node ip neigh replace 172.30.0.20 lladdr 02:00:c0:a8:64:14 dev aepvx nud permanent
  in_vpc ip link add aepvx type vxlan id 1 dstport 8472 local $VPCHOST dev v0 nolearning
  in_vpc ip link set aepvx address 02:00:c0:a8:64:14 mtu 1450 up
  in_vpc ip addr add 172.30.0.20/24 dev aepvx
  in_vpc bridge fdb append 02:00:0a:00:00:0a dev aepvx dst 10.0.0.10
  in_vpc ip neigh replace 172.30.0.10 lladdr 02:00:0a:00:00:0a dev aepvx nud permanent
}
vxlan_down() { in_node ip link del aepvx 2>/dev/null || true; in_vpc ip link del aepvx 2>/dev/null || true; }

# truth [WRAP...]: what real clients on the node do in the lab's present state, one line per
# component: "NAME ok|fail WHAT". WRAP (e.g. faketime -f -400d) runs the C clients under it; Go
# binaries ignore libfaketime, so under a wrapper the pull is judged by curl of the registry.
truth() {
  local t=$DIR/truth ca=$DIR/pki/ca.pem
  rm -rf "$t"; mkdir -p "$t"
  # flanneld and the kubelet would hold UDP 8472 and TCP 10250: nothing else of the lab's may
  for pid in $(ip netns pids "$NODE" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  sleep 0.1
  vxlan_up
  # a kubelet stand-in on 10250 (unless something already listens there)
  in_node timeout 20 nc -l 10.0.0.10 10250 </dev/null >/dev/null 2>&1 &
  local listener=$!
  # the kubelet and containerd retry a failed pull; the truth's clients retry their name lookups
  # each second instead (glibc's RES_OPTIONS; skopeo through cgo's resolver), so random loss on the
  # line does not decide a pull by one lost DNS answer
  export RES_OPTIONS="timeout:1 attempts:5" GODEBUG=netdns=cgo
  run() {  # run NAME CMD...: exit status and output of one client, in the background
    local name=$1; shift
    ( set +e; "$@" >"$t/$name.out" 2>&1; echo $? >"$t/$name.rc" ) &
  }
  if [ $# -eq 0 ]; then
    # the kubelet gives a pull minutes; Go's resolver retransmits after 5 s: 30 s here
    local creds=()
    [ -s "$DIR/truth-creds" ] && creds=(--src-creds "$(cat "$DIR/truth-creds")")
    run pull in_node timeout 35 skopeo --insecure-policy --command-timeout 30s copy --quiet \
      --src-cert-dir "$DIR/certs" "${creds[@]}" "docker://$REGNAME/$IMAGE" "dir:$t/image"
  else
    run pull in_node "$@" curl -sS --max-time 8 --cacert "$ca" -o /dev/null "https://$REGNAME/v2/"
  fi
  run oss in_node "$@" curl -sS --fail --max-time 20 --cacert "$ca" -o "$t/object" "https://$OSSNAME/lab/object-8m"
  run apiserver in_node "$@" curl -sS --max-time 8 --cacert "$ca" -o /dev/null "https://$API:6443/"
  run ntp in_node "$@" ntpdate -q -t 1 ntp1.aliyun.com cn.ntp.org.cn  # by name, as chrony.conf names them
  run vxlan in_node ping -n -q -c 3 -i 0.3 -W 2 -M do -s 1422 172.30.0.20
  sleep 0.2
  run kubelet in_cloud timeout 5 nc -z -w 3 -s $API 10.0.0.10 10250
  wait "$(jobs -p | grep -vx "$listener")" 2>/dev/null || true
  while [ "$(find "$t" -name '*.rc' | wc -l)" -lt 6 ]; do sleep 0.1; done
  kill "$listener" 2>/dev/null || true
  vxlan_down
  local c rc
  for c in pull oss apiserver ntp vxlan kubelet; do
    rc=$(cat "$t/$c.rc")
    if [ "$rc" = 0 ]; then echo "$c ok"; else echo "$c fail $(tr '\n' ' ' <"$t/$c.out" | cut -c1-300)"; fi
  done
  # the clock, as ntpdate measured it: the largest offset among the servers that answered
  local off
  # ntpdate (ntpsec) prints "DATE (+0000) OFFSET +/- ERROR SERVER sN no-leap" per answer
  off=$(awk '{for (i = 2; i <= NF; i++) if ($i == "+/-") {o = $(i-1); o = o < 0 ? -o : o; if (o > m) m = o; n++}}
             END {if (n) print m}' "$t/ntp.out")
  if [ -z "$off" ]; then echo "clock unknown no NTP answer"
  elif awk -v o="$off" 'BEGIN {exit !(o >= 5)}'; then echo "clock fail offset $off s"
  else echo "clock ok offset $off s"; fi
}

# responder NS ADDR BIN [ARGS...]: start the agent's responder in a namespace, in the background
start_responder() {
  local which=$1 ns=$ID-$1 addr=$2 bin=$3; shift 3
  local logf=$DIR/responder-$which.log
  ip netns exec "$ns" "$bin" responder --bind "$addr" --duration 900s "$@" </dev/null >"$logf" 2>&1 &
  for _ in $(seq 50); do grep -q "listening" "$logf" 2>/dev/null && return 0; sleep 0.1; done
  echo "lab: responder in $ns did not start: $(cat "$logf")" >&2; return 1
}


# fleet N PUBKEY: N more node namespaces on their own router ports, each with sshd (root login with
# the test's key only, listening on the node's address), and a controller namespace for Ansible.
# They share this machine's filesystem and hostname, as cloned servers share `localhost.localdomain`.
fleet() {
  local n=$1 key=$2 i ns
  mkdir -p /run/sshd "$DIR/ssh"  # sshd's privilege-separation directory (the package's unit makes it)
  [ -s "$DIR/ssh/host_key" ] || ssh-keygen -q -t ed25519 -N "" -f "$DIR/ssh/host_key"
  cp "$key" "$DIR/ssh/authorized_keys"
  ip netns add "$ID-ctl"
  ip link add eth0 netns "$ID-ctl" type veth peer name rctl netns "$ROUTER"
  ip netns exec "$ID-ctl" ip link set lo up
  ip netns exec "$ID-ctl" ip addr add 10.0.9.10/24 dev eth0; ip netns exec "$ID-ctl" ip link set eth0 up
  in_router ip addr add 10.0.9.1/24 dev rctl; in_router ip link set rctl up
  ip netns exec "$ID-ctl" ip route add 10.0.0.0/8 via 10.0.9.1
  for i in $(seq "$n"); do
    ns=$ID-f$i
    ip netns add "$ns"
    mkdir -p "/etc/netns/$ns"; echo "nameserver $VPCDNS" >"/etc/netns/$ns/resolv.conf"
    ip link add eth0 netns "$ns" type veth peer name "rf$i" netns "$ROUTER"
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip addr add "10.0.1$i.10/24" dev eth0; ip netns exec "$ns" ip link set eth0 up
    in_router ip addr add "10.0.1$i.1/24" dev "rf$i"; in_router ip link set "rf$i" up
    for net in 100.0.0.0/8 192.168.0.0/16 198.18.0.0/15; do ip netns exec "$ns" ip route add $net via "10.0.1$i.1"; done
    ip netns exec "$ns" ip route add default via "10.0.1$i.1"
    cat >"$DIR/ssh/sshd_config-f$i" <<C
ListenAddress 10.0.1$i.10
HostKey $DIR/ssh/host_key
PidFile $DIR/ssh/sshd-f$i.pid
AuthorizedKeysFile $DIR/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
C
    ip netns exec "$ns" /usr/sbin/sshd -f "$DIR/ssh/sshd_config-f$i" -E "$DIR/ssh/sshd-f$i.log"
  done
  for i in $(seq "$n"); do
    for _ in $(seq 50); do [ -s "$DIR/ssh/sshd-f$i.pid" ] && break; sleep 0.1; done
    [ -s "$DIR/ssh/sshd-f$i.pid" ] || { echo "lab: sshd in $ID-f$i did not start: $(cat "$DIR/ssh/sshd-f$i.log" 2>/dev/null)" >&2; return 1; }
  done
  log "fleet: $n nodes with sshd (10.0.11.10 ..), controller $ID-ctl (10.0.9.10)"
}

status() {
  ip netns list | grep "^$ID-" || true
  for ns in "$NODE" "$ROUTER" "$ID-vbr" "$CLOUD"; do echo "$ns: pids $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"; done
}

cmd=${1:-}; shift || true
case $cmd in
  up) up ;;
  down) down ;;
  clear) clear_faults ;;
  fault) fault "$@" ;;
  node) in_node "$@" ;;
  cloud) in_cloud "$@" ;;
  router) in_router "$@" ;;
  status) status ;;
  fleet) fleet "$@" ;;
  ctl) ip netns exec "$ID-ctl" "$@" ;;
  responder) start_responder "$@" ;;
  dir) echo "$DIR" ;;
  truth) truth "$@" ;;
  *) echo "usage: lab.sh up|down|clear|fault NAME...|node CMD...|cloud CMD...|status|dir|fleet N KEY|ctl CMD..." >&2; exit 2 ;;
esac
