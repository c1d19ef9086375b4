#!/usr/bin/env bash
# Build the release binary for shipping to datacenter nodes and report what it needs from libc.
#
# For old distributions (CentOS 7 / glibc 2.17, Alibaba Cloud Linux 2) build the fully static musl
# binary: `rustup target add x86_64-unknown-linux-musl` once, then `packaging/build-release.sh musl`.
# The glibc build runs on distributions whose glibc is at least the version printed below.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-gnu}
case $kind in
  musl) target=x86_64-unknown-linux-musl ;;
  gnu) target=x86_64-unknown-linux-gnu ;;
  *) echo "usage: $0 [gnu|musl]" >&2; exit 2 ;;
esac
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  echo "build-release: Rust target $target is not installed (rustup target add $target)" >&2
  exit 2
fi
cargo build --release --locked --target "$target"
bin=target/$target/release/ack-edge-preflight
version=$("$bin" --version | awk '{print $2}')
out=dist/ack-edge-preflight-$version-$target
mkdir -p dist
cp "$bin" "$out"
sha256sum "$out" >"$out.sha256"
echo "built $out ($(stat -c %s "$out") bytes)"
if [ "$kind" = gnu ]; then
  need=$(objdump -T "$out" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1)
  echo "needs glibc >= ${need#GLIBC_} (use the musl build for older systems)"
else
  file "$out" || true
fi
