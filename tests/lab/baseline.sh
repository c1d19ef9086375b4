#!/usr/bin/env bash
# The way operators check a node today: one thing after another with getent, nc, ntpdate and
# command -v. Used only as the benchmark's baseline (tests/lab/bench.sh), inside the lab's node namespace.
REGION=${1:-cn-hangzhou}
API=${2:-192.168.0.10}
fails=0
say() { printf '%-5s %s\n' "$1" "$2"; [ "$1" = FAIL ] && fails=$((fails + 1)); true; }
for name in cs-anony-vpc.$REGION.aliyuncs.com aliacs-k8s-$REGION.oss-$REGION-internal.aliyuncs.com \
            registry-$REGION-vpc.ack.aliyuncs.com ntp1.aliyun.com cn.ntp.org.cn; do
  if getent ahostsv4 "$name" >/dev/null; then say PASS "dns $name"; else say FAIL "dns $name"; fi
done
for hp in cs-anony-vpc.$REGION.aliyuncs.com:443 aliacs-k8s-$REGION.oss-$REGION-internal.aliyuncs.com:443 \
          100.103.9.188:443 100.103.7.181:443 $API:6443; do
  if nc -z -w 3 "${hp%:*}" "${hp##*:}" 2>/dev/null; then say PASS "tcp $hp"; else say FAIL "tcp $hp"; fi
done
for s in ntp1.aliyun.com cn.ntp.org.cn; do
  if ntpdate -q -t 3 "$s" >/dev/null 2>&1; then say PASS "ntp $s"; else say FAIL "ntp $s"; fi
done
for t in netstat ifconfig route ip chronyc lspci socat ebtables iptables conntrack crontab; do
  if command -v "$t" >/dev/null; then say PASS "tool $t"; else say WARN "tool $t"; fi
done
[ "$fails" = 0 ]
