#!/usr/bin/env bash
# Check the release artifacts in dist/ the way operators use them: read the package metadata with
# dpkg-deb and rpm, unpack each package into a scratch root (the host is not changed), run the
# installed binary, open the man page with man, and complete a subcommand with the bash completion.
# Run by .ci/run after packaging/build-release.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIST=${DIST:-dist}
FLOOR=2.17
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*" >&2; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
has() { grep -qE -- "$2" <<<"$1"; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
deb=$(ls "$DIST"/*.deb) rpm=$(ls "$DIST"/*.rpm) bin=$DIST/ack-edge-preflight-$version-x86_64-linux-gnu
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# checksums cover every artifact
check "SHA256SUMS verifies" bash -c "cd '$DIST' && sha256sum -c SHA256SUMS"
for f in "$deb" "$rpm" "$bin"; do
  if grep -q " $(basename "$f")\$" "$DIST/SHA256SUMS"; then ok "SHA256SUMS lists $(basename "$f")"; else bad "SHA256SUMS lists $(basename "$f")"; fi
done

# glibc floor of the shipped binary
highest=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
if [ "$(printf '%s\n%s\n' "$highest" "$FLOOR" | sort -V | tail -1)" = "$FLOOR" ]; then ok "binary needs at most GLIBC_$FLOOR (highest: GLIBC_$highest)"; else bad "binary needs GLIBC_$highest"; fi

installed_binary_works() {
  local root=$1 how=$2 b=$1/usr/bin/ack-edge-preflight
  local v
  v=$("$b" --version) || { bad "$how: --version runs"; return; }
  has "$v" "^ack-edge-preflight $version\$" && ok "$how: --version says $version" || bad "$how: --version: $v"
  has "$v" "^commit: [0-9a-f]{7,}" && ok "$how: --version names the commit" || bad "$how: --version commit: $v"
  has "$v" "^target: x86_64-unknown-linux-gnu \(runs on glibc >= $FLOOR\)" && ok "$how: --version names target and glibc floor" || bad "$how: --version target: $v"
  local p
  p=$("$b" plan --region cn-hangzhou --format json) && has "$p" '"id": "dns.registry"' && ok "$how: plan runs" || bad "$how: plan"
  p=$("$b" requirements --format markdown) && has "$p" 'tcp.registry' && ok "$how: requirements runs" || bad "$how: requirements"
  # the man page opens with man and documents the commands and the exit codes
  local m
  m=$(MANWIDTH=100 MANPAGER=cat man -l "$root/usr/share/man/man1/ack-edge-preflight.1.gz" 2>&1) || bad "$how: man -l"
  has "$m" "^NAME" && has "$m" "check" && has "$m" "Exit +codes" && ok "$how: man page opens (NAME, commands, exit codes)" || bad "$how: man page: $(head -5 <<<"$m")"
  m=$(MANWIDTH=100 MANPAGER=cat man -l "$root/usr/share/man/man1/ack-edge-preflight-check.1.gz" 2>&1) || true
  has "$m" "--region" && ok "$how: check's man page documents --region" || bad "$how: check man page"
  # bash completion completes a subcommand and a flag
  local c
  c=$(bash -c '
    source "$1"
    # the function bash calls for the command, as registered by the completion file
    fn=$(complete -p ack-edge-preflight | sed -n "s/.*-F \([^ ]*\).*/\1/p")
    [ -n "$fn" ] || { echo "no completion registered"; exit 1; }
    COMP_WORDS=(ack-edge-preflight pl); COMP_CWORD=1; COMP_LINE="ack-edge-preflight pl"; COMP_POINT=${#COMP_LINE}
    "$fn" ack-edge-preflight pl ack-edge-preflight; echo "sub: ${COMPREPLY[*]}"
    COMP_WORDS=(ack-edge-preflight check --reg); COMP_CWORD=2; COMP_LINE="ack-edge-preflight check --reg"; COMP_POINT=${#COMP_LINE}
    "$fn" ack-edge-preflight --reg check; echo "flag: ${COMPREPLY[*]}"
  ' _ "$root/usr/share/bash-completion/completions/ack-edge-preflight" 2>&1)
  has "$c" "^sub: plan\$" && ok "$how: bash completes 'pl' to 'plan'" || bad "$how: bash completion of a subcommand: $c"
  has "$c" "^flag: .*--region" && ok "$how: bash completes 'check --reg' to --region" || bad "$how: bash completion of a flag: $c"
  [ -s "$root/usr/share/fish/vendor_completions.d/ack-edge-preflight.fish" ] && ok "$how: fish completion installed" || bad "$how: fish completion"
  ls "$root"/usr/share/zsh/*/_ack-edge-preflight >/dev/null 2>&1 && ok "$how: zsh completion installed" || bad "$how: zsh completion"
  # the example systemd unit and timer (monitoring after the join), verified by systemd itself with
  # ExecStart pointed at the unpacked binary (nothing is installed or enabled on this host)
  local ex=$root/usr/share/doc/ack-edge-preflight/examples units=$scratch/units-$how
  if [ -s "$ex/ack-edge-preflight.service" ] && [ -s "$ex/ack-edge-preflight.timer" ]; then
    mkdir -p "$units"
    sed "s|/usr/bin/ack-edge-preflight|$b|" "$ex/ack-edge-preflight.service" >"$units/ack-edge-preflight.service"
    cp "$ex/ack-edge-preflight.timer" "$units/"
    v=$(systemd-analyze verify --man=no "$units/ack-edge-preflight.service" "$units/ack-edge-preflight.timer" 2>&1) && [ -z "$v" ] \
      && ok "$how: example systemd service and timer verify cleanly" || bad "$how: systemd-analyze verify: $v"
    has "$(cat "$ex/ack-edge-preflight.service")" "--format prometheus --output /var/lib/node_exporter/textfile_collector/" \
      && ok "$how: the example service writes the textfile collector" || bad "$how: example service command"
  else
    bad "$how: example systemd units missing under /usr/share/doc/ack-edge-preflight/examples"
  fi
}

# --- .deb ---
info=$(dpkg-deb --info "$deb")
has "$info" "Package: ack-edge-preflight" && has "$info" "Version: $version" && has "$info" "Architecture: amd64" && ok "deb: package, version, architecture" || bad "deb info: $info"
has "$info" "Maintainer: .+<.+@.+>" && has "$info" "Description: .+" && ok "deb: maintainer and description" || bad "deb maintainer/description"
has "$info" "Depends: libc6 \(>= $FLOOR\)" && ok "deb: depends on libc6 >= $FLOOR only" || bad "deb depends: $(grep Depends <<<"$info")"
contents=$(dpkg-deb --contents "$deb")
for f in usr/bin/ack-edge-preflight usr/share/man/man1/ack-edge-preflight.1.gz usr/share/man/man1/ack-edge-preflight-check.1.gz \
  usr/share/bash-completion/completions/ack-edge-preflight usr/share/doc/ack-edge-preflight/README.md usr/share/doc/ack-edge-preflight/copyright; do
  has "$contents" "\./$f\$" && ok "deb contains /$f" || bad "deb lacks /$f"
done
dpkg-deb -x "$deb" "$scratch/deb"
installed_binary_works "$scratch/deb" deb
grep -q "Apache License" "$scratch/deb/usr/share/doc/ack-edge-preflight/copyright" && ok "deb: license text in copyright" || bad "deb: copyright lacks the license"

# --- .rpm ---
info=$(rpm -qip "$rpm" 2>/dev/null)
has "$info" "^Name +: ack-edge-preflight" && has "$info" "^Version +: $version" && has "$info" "^License +: Apache-2.0" && ok "rpm: name, version, license" || bad "rpm info: $info"
has "$info" "^Architecture: x86_64" && has "$info" "^Summary +: .+" && ok "rpm: architecture and summary" || bad "rpm arch/summary"
list=$(rpm -qlp "$rpm" 2>/dev/null)
for f in /usr/bin/ack-edge-preflight /usr/share/man/man1/ack-edge-preflight.1.gz /usr/share/bash-completion/completions/ack-edge-preflight \
  /usr/share/doc/ack-edge-preflight/README.md /usr/share/licenses/ack-edge-preflight/LICENSE; do
  has "$list" "^$f\$" && ok "rpm contains $f" || bad "rpm lacks $f"
done
requires=$(rpm -qp --requires "$rpm" 2>/dev/null)
has "$requires" "libc\.so\.6" && ok "rpm requires libc.so.6" || bad "rpm requires: $requires"
newest=$(grep -o 'GLIBC_[0-9.]*' <<<"$requires" | sed 's/GLIBC_//' | sort -uV | tail -1)
if [ -n "$newest" ] && [ "$(printf '%s\n%s\n' "$newest" "$FLOOR" | sort -V | tail -1)" = "$FLOOR" ]; then
  ok "rpm requires at most GLIBC_$FLOOR (highest: GLIBC_$newest)"
else
  bad "rpm requires GLIBC_$newest: $requires"
fi
# CentOS 7's rpm 4.11 reads gzip and xz payloads, not zstd
if has "$requires" "PayloadIsZstd"; then bad "rpm has a zstd payload: rpm 4.11 (CentOS 7) cannot install it"; else ok "rpm payload readable by rpm 4.11"; fi
# rpm2cpio | cpio, as the issue asks; rpm2cpio 4.18 exits 1 on packages written by the rpm crate
# (its header's payload size differs from what rpm2cpio counts; rpm itself does not check it), so
# cpio's status and the extracted files are what count here
mkdir -p "$scratch/cpio"
set +o pipefail
(cd "$scratch/cpio" && rpm2cpio "$OLDPWD/$rpm" 2>/dev/null | cpio -idm --quiet) && cpio_ok=1 || cpio_ok=0
set -o pipefail
if [ "$cpio_ok" = 1 ] && [ -x "$scratch/cpio/usr/bin/ack-edge-preflight" ] && "$scratch/cpio/usr/bin/ack-edge-preflight" --version >/dev/null; then
  ok "rpm: rpm2cpio | cpio extracts a binary that runs"
else
  bad "rpm: rpm2cpio | cpio extraction"
fi
# and installed by rpm itself into a scratch root (its own database; --nodeps because that root
# has no glibc package): rpm reads the payload, places and verifies every file
mkdir -p "$scratch/rpmroot"
rpm --root "$scratch/rpmroot" --initdb
if rpm --root "$scratch/rpmroot" -i --nodeps --noscripts "$rpm" 2>/dev/null; then ok "rpm: installs with rpm -i"; else bad "rpm: rpm -i"; fi
verify=$(rpm --root "$scratch/rpmroot" -V --nodeps ack-edge-preflight 2>&1) && ok "rpm: rpm -V finds every installed file intact" || bad "rpm -V: $verify"
installed_binary_works "$scratch/rpmroot" rpm

if [ "$fails" -gt 0 ]; then
  echo "check-artifacts: $fails check(s) failed" >&2
  exit 1
fi
echo "check-artifacts: every check passed"
