#!/usr/bin/env bash
# Run every fuzz target for a fixed budget (default 30 s each): libFuzzer through cargo-fuzz on the
# stable toolchain (RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags; --sanitizer none: ASan
# needs a nightly standard library, and the parsers are safe Rust, so a panic or a hang is what
# is looked for). New corpus entries go to a scratch directory; the repository's seeds are read
# only. A crash stops the run with its input in fuzz/artifacts/TARGET/: add it to
# fuzz/regressions/TARGET/ (tests/fuzz.rs runs it on every `cargo test`), then fix the parser.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-30}; shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(network host parsers responder)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
SCRATCH=$(mktemp -d /tmp/aep-fuzz.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
export RUSTC_BOOTSTRAP=1
cargo fuzz build --sanitizer none --release >"$SCRATCH/build.log" 2>&1 || { cat "$SCRATCH/build.log" >&2; exit 1; }
for t in "${TARGETS[@]}"; do
  mkdir -p "$SCRATCH/$t" "fuzz/corpus/$t"
  echo "fuzz: $t for ${SECS}s"
  # -timeout: one input that takes over 2 s is a hang; -rss_limit_mb: a parser that balloons
  rc=0
  cargo fuzz run --sanitizer none --release "$t" "$SCRATCH/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$SECS" -timeout=2 -rss_limit_mb=1024 -print_final_stats=1 >"$SCRATCH/$t.log" 2>&1 || rc=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$SCRATCH/$t.log" || true
  if [ $rc -ne 0 ]; then
    tail -40 "$SCRATCH/$t.log" >&2
    echo "fuzz: $t found a crash (exit $rc): its input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
