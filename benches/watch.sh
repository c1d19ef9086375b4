#!/usr/bin/env bash
# Benchmark: what `watch` costs the node, in the network-namespace lab (root): the lab's targets (5
# endpoint addresses, 2 NTP servers, 1 VXLAN peer, 5 names, the full-size DF echoes), at the default
# 5 s interval and at 1 s, for a short and a four-times-longer run each. Prints packets a second,
# CPU (user+sys over wall) and peak RSS (GNU time): RSS must not grow with the duration. Nothing is
# asserted: the figures go to README.
#
#   benches/watch.sh [SHORT_SECONDS]        BIN=path/to/ack-edge-preflight to skip the build
set -euo pipefail
SHORT=${1:-30}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-}
if [ -z "$BIN" ]; then
  (cd "$HERE" && cargo build --release --locked -q)
  BIN=$HERE/target/release/ack-edge-preflight
fi
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
export LAB_ID=${LAB_ID:-aepwb$$}
LAB="bash $HERE/tests/lab/lab.sh"
trap '$LAB down >/dev/null 2>&1 || true' EXIT
$LAB up >/dev/null
$LAB responder cloud 192.168.0.20 "$BIN" --udp-only >/dev/null
DIR=$($LAB dir)
echo "watch benchmark: the lab's targets, $(nproc) CPUs"
echo "| interval | duration | rounds | packets/s | CPU (of one core) | peak RSS |"
echo "|---|---|---|---|---|---|"
for interval in 5s 1s; do
  for secs in "$SHORT" $((SHORT * 4)); do
    /usr/bin/time -f "%e %U %S %M" -o "$DIR/time" $LAB node "$BIN" watch --region cn-hangzhou \
      --apiserver 192.168.0.10 --peer 192.168.0.20 --timeout 1s --interval "$interval" \
      --duration "${secs}s" --sysroot "$DIR/root" --ca-file "$DIR/pki/ca.pem" --format json \
      -o "$DIR/watch.json" 2>"$DIR/err" || true
    # GNU time puts "Command exited with non-zero status N" first when the watch saw a FAIL
    read -r wall user sys kb < <(tail -1 "$DIR/time")
    line=$(grep '^watch:' "$DIR/err" | tail -1)
    rounds=$(sed -E 's/^watch: ([0-9]+) rounds.*/\1/' <<<"$line")
    pps=$(sed -E 's/.*\(([0-9.]+) a second\).*/\1/' <<<"$line")
    cpu=$(awk -v u="$user" -v s="$sys" -v w="$wall" 'BEGIN{printf "%.2f %%", (u+s)/w*100}')
    echo "| $interval | ${secs} s | $rounds | $pps | $cpu | $((kb / 1024)) MiB |"
  done
done
