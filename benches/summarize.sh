#!/usr/bin/env bash
# Benchmark: `summarize` over N realistic reports (default 10,000 of ~40 KB) against the ten-line
# Python baseline of issue 12 (json.load each file, count FAILs per id). Prints wall time and peak
# RSS (GNU time) of both, best of R runs (default 3). Nothing is asserted: the figures go to README.
#
#   benches/summarize.sh [N] [RUNS]        BIN=path/to/ack-edge-preflight to skip the build
set -euo pipefail
N=${1:-10000} RUNS=${2:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-}
if [ -z "$BIN" ]; then
  (cd "$HERE" && cargo build --release --locked -q)
  BIN=$HERE/target/release/ack-edge-preflight
fi
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/aep-bench.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT

python3 - "$WORK/reports" "$N" <<'PY'
import json, os, random, sys
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
rnd = random.Random(12)
ids = [("dns.control-plane", "dns"), ("dns.registry", "dns"), ("dns.oss", "dns"), ("route.registry", "route"),
       ("route.oss", "route"), ("tcp.control-plane", "tcp"), ("tcp.registry", "tcp"), ("tcp.oss", "tcp"),
       ("tls.registry", "tls"), ("http.registry", "http"), ("ntp.reachable", "ntp"), ("ntp.offset", "ntp"),
       ("udp.vxlan", "udp"), ("mtu.path", "mtu"), ("port.local", "port"), ("tools.socat", "tools"),
       ("cidr.overlap", "cidr"), ("host.firewall", "host"), ("host.sysctl", "host"), ("dns.resolver", "dns")]
addrs = ["100.103.9.188:443", "100.103.7.181:443", "100.118.28.10:443", "100.103.42.233:443", None]
def row(i, fail):
    rid, cat = ids[i % len(ids)]
    status = "fail" if fail and rid.startswith("tcp.") else rnd.choice(["pass"] * 18 + ["warn", "skip"])
    det = {"phase": "connect", "resolved": ["100.103.9.188", "100.103.7.181"], "route": "via 10.0.0.1 dev eth1 src 10.0.0.10",
           "rtt_ms": rnd.randint(2, 40), "evidence": "x" * rnd.randint(100, 300)}
    if status == "fail":
        det["error"] = rnd.choice(["timeout", "refused"])
    return {"id": rid, "category": cat, "title": "Requirement " + rid, "target": rid.split(".")[1], "address": rnd.choice(addrs),
            "status": status, "message": "observed: " + "y" * rnd.randint(60, 160), "remediation": "Allow it on the line. " * 6,
            "source": "seeds/dedicated-line-network-and-endpoints.ja.txt §2", "duration_ms": rnd.randint(1, 3000), "details": det}
for k in range(n):
    fail = rnd.random() < 0.05
    rows = [row(i, fail) for i in range(40)]
    verdict = "fail" if any(r["status"] == "fail" for r in rows) else ("warn" if any(r["status"] == "warn" for r in rows) else "pass")
    rep = {"schema_version": 3, "tool": {"name": "ack-edge-preflight", "version": "0.3.0"},
           "started_at": "2026-11-21T10:%02d:%02dZ" % (k // 60 % 60, k % 60), "duration_ms": 3012,
           "host": {"hostname": "localhost.localdomain" if k % 7 == 0 else "dc-node-%05d" % k, "os": "CentOS Linux 7 (Core)",
                    "kernel": "3.10.0-1160.el7.x86_64", "addresses": ["10.%d.%d.%d/24" % (k >> 16 & 255, k >> 8 & 255, k & 255)],
                    "nameservers": ["100.100.2.136"], "machine_id": "%032x" % (k * 7919 + 1), "primary_address": "10.%d.%d.%d" % (k >> 16 & 255, k >> 8 & 255, k & 255)},
           "target": {"region": "cn-hangzhou", "cni": "flannel", "apiserver": "192.168.0.10:6443"},
           "options": {"region": "cn-hangzhou", "cni": "flannel"},
           "summary": {"pass": 0, "warn": 0, "fail": 0, "skip": 0, "verdict": verdict}, "waivers": [], "results": rows}
    with open(os.path.join(out, "r%05d.json" % k), "w") as f:
        json.dump(rep, f, indent=2)
PY
SIZE=$(du -sk "$WORK/reports" | cut -f1)
cat >"$WORK/baseline.py" <<'PY'
import collections, glob, json, sys
fails = collections.Counter()
for path in glob.glob(sys.argv[1] + "/*.json"):
    with open(path) as f:
        report = json.load(f)
    for row in report["results"]:
        if row["status"] == "fail":
            fails[row["id"]] += 1
print(dict(fails))
PY
sync
best() { # best wall time and its peak RSS over RUNS runs of the command
  local b_s=999999 b_kb=0
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$WORK/t" "$@" >/dev/null 2>"$WORK/err" || true
    read -r s kb < <(tail -1 "$WORK/t")
    if awk -v a="$s" -v b="$b_s" 'BEGIN{exit !(a<b)}'; then b_s=$s b_kb=$kb; fi
  done
  echo "$b_s $b_kb"
}
find "$WORK/reports" -name "*.json" -exec cat {} + >/dev/null  # warm the page cache for both
read -r py_s py_kb < <(best python3 "$WORK/baseline.py" "$WORK/reports")
read -r rs_s rs_kb < <(best "$BIN" summarize --format json "$WORK/reports")
read -r rs1_s rs1_kb < <(best "$BIN" summarize --jobs 1 --format json "$WORK/reports")
# what changed: the same collection against itself (both folded, every host joined)
read -r df_s df_kb < <(best "$BIN" summarize --format json --baseline "$WORK/reports" "$WORK/reports")
echo "summarize benchmark: $N reports, $((SIZE / 1024)) MiB ($((SIZE / N)) KB each), $(nproc) CPUs, best of $RUNS"
echo "| | wall time | peak RSS |"
echo "|---|---|---|"
echo "| Python baseline (json.load per file) | ${py_s} s | $((py_kb / 1024)) MiB |"
echo "| ack-edge-preflight summarize | ${rs_s} s | $((rs_kb / 1024)) MiB |"
echo "| ack-edge-preflight summarize --jobs 1 | ${rs1_s} s | $((rs1_kb / 1024)) MiB |"
echo "| ack-edge-preflight summarize --baseline (the collection against itself) | ${df_s} s | $((df_kb / 1024)) MiB |"
