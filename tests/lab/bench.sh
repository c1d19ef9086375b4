#!/usr/bin/env bash
# Benchmark: the agent's full `check` against the sequential baseline (baseline.sh), in the lab,
# healthy, with ICMP filtered toward the cloud, with everything blackholed and on a long line
# (240 ms round trip); and `inbound` over a rack of 200 nodes × 5 ports with one alive. Prints
# median wall time and peak RSS of each and the ratio. Nothing is asserted: the figures go to README.
# Needs root. Usage:
#   [SCENARIOS="healthy icmp-filtered blackholed long-line inbound-rack"] tests/lab/bench.sh [RUNS_HEALTHY] [RUNS_BLACKHOLED]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
RUNS=${1:-7}
RUNS_BH=${2:-3}
LAB="$HERE/lab.sh"
BIN=${BIN:-$TOP/target/release/ack-edge-preflight}
(cd "$TOP" && cargo build --release --quiet)
command -v /usr/bin/time >/dev/null || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
export LAB_ID=${LAB_ID:-aepbench}
trap 'bash "$LAB" down >/dev/null 2>&1 || true' EXIT
bash "$LAB" up
DIR=$(bash "$LAB" dir)
bash "$LAB" responder cloud 192.168.0.20 "$BIN" --udp-only
TIMEF=$(mktemp)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

measure() { # runs cmd... -> "median_s median_rss_kib" (on the node)
  measure_in node "$@"
}

measure_in() { # ns runs cmd... -> "median_s median_rss_kib"
  local ns=$1 runs=$2; shift 2
  local t=() m=()
  for _ in $(seq "$runs"); do
    local out
    bash "$LAB" "$ns" /usr/bin/time -o "$TIMEF" -f "%e %M" "$@" >/dev/null 2>&1 || true
    out=$(tail -1 "$TIMEF")
    t+=("${out% *}"); m+=("${out#* }")
  done
  echo "$(printf '%s\n' "${t[@]}" | median) $(printf '%s\n' "${m[@]}" | median)"
}

AGENT=("$BIN" check --region cn-hangzhou --apiserver 192.168.0.10 --sysroot "$DIR/root" --format json
       --ca-file "$DIR/pki/ca.pem" --cluster-ca "$DIR/pki/ca.pem" --peer 192.168.0.20 --timeout 2s)
BASE=(bash "$HERE/baseline.sh" cn-hangzhou 192.168.0.10)

printf '%-13s %-10s %12s %14s\n' scenario tool "median s" "peak RSS KiB"
# a rack of 200 nodes: one alive (the node, running the responder), 199 addresses nobody answers
RACK=$(mktemp)
{ echo 10.0.0.10; for i in $(seq 1 199); do echo "10.0.$((100 + i / 100)).$((i % 100 + 1))"; done; } >"$RACK"
bash "$LAB" responder node 10.0.0.10 "$BIN"

for scenario in ${SCENARIOS:-healthy icmp-filtered blackholed long-line inbound-rack}; do
  bash "$LAB" clear
  runs=$RUNS
  if [ $scenario = inbound-rack ]; then
    read -r at am < <(measure_in cloud "$RUNS_BH" "$BIN" inbound --nodes-file "$RACK" --timeout 2s --format json)
    printf '%-11s %-10s %12s %14s\n' $scenario agent "$at" "$am"
    awk -v a="$at" 'BEGIN { printf "%-11s 200 nodes x 5 ports at a 2 s timeout: %.2f T\n", "inbound-rack", a / 2 }'
    continue
  fi
  if [ $scenario = icmp-filtered ]; then bash "$LAB" fault icmp-filtered; fi
  if [ $scenario = blackholed ]; then bash "$LAB" fault blackhole-all; runs=$RUNS_BH; fi
  if [ $scenario = long-line ]; then bash "$LAB" fault long-line; runs=$RUNS_BH; fi
  read -r at am < <(measure "$runs" "${AGENT[@]}")
  read -r bt bm < <(measure "$runs" "${BASE[@]}")
  printf '%-11s %-10s %12s %14s\n' $scenario agent "$at" "$am"
  printf '%-11s %-10s %12s %14s\n' $scenario baseline "$bt" "$bm"
  awk -v a="$at" -v b="$bt" -v s=$scenario 'BEGIN { if (a > 0) printf "%-11s baseline/agent wall-time ratio: %.1fx\n", s, b / a; else printf "%-11s agent finished in under 10 ms\n", s }'
done
