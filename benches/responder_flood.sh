#!/usr/bin/env bash
# Benchmark: the responder under a UDP flood on loopback (tests/responder_flood.rs, ignored in
# `cargo test`): one source flooding, 63 probers at ten requests a second, one sending garbage.
# Prints requests and replies per second, the probers' answered share, bytes in/out
# (amplification) and the responder's CPU and peak RSS. Nothing is asserted but amplification ≤ 1.
#
#   benches/responder_flood.sh [SECONDS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
SECONDS_FLOOD=${1:-3} cargo test --release --locked -q --test responder_flood -- --ignored --nocapture 2>&1 \
  | grep -v '^running\|^test \|^$\|test result'
