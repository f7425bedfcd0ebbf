#!/bin/sh
# Per-build sandbox overhead, nixkit against CppNix: N trivial derivations (a static busybox
# writing one line), each built by its own `build` command into a temporary store. The
# overhead of build i is its wall time minus that of an immediate no-op rerun (process
# start, evaluation, store queries), which leaves sandbox setup + builder exec + teardown +
# output registration. Prints min/median/max in ms.
# CppNix (`nix-build`, Debian's nix-bin 2.8) is measured with `--option sandbox true` into a
# chroot store when it is installed; it needs root and the `nixbld` build users, and says why
# when it cannot run.
# Usage: benches/sandbox-overhead.sh [N]   (needs busybox-static and user namespaces)
set -eu
N=${1:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build -q --release -p nixkit --manifest-path "$ROOT/Cargo.toml"
NIXKIT="$ROOT/target/release/nixkit"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"
mkdir "$WORK/bb"
cp /bin/busybox "$WORK/bb/busybox"
cat > "$WORK/triv.nix" <<'NIX'
{ n }:
let bb = builtins.path { path = ./bb; name = "busybox"; };
in derivation {
  name = "triv-${n}";
  system = builtins.currentSystem;
  builder = "${bb}/busybox";
  args = [ "sh" "-c" "echo ${n} > $out" ];
}
NIX
cd "$WORK"

us() { echo $(( ($(date +%s%N) - $1) / 1000 )); } # microseconds since $1 (ns)

# once NAME I CMD...: runs "CMD --argstr n NAME-I" twice (build, then no-op rerun) and
# appends both wall times (us) to NAME.times; fails with the output's tail if the build fails.
once() {
  name=$1; i=$2; shift 2
  t0=$(date +%s%N)
  if ! "$@" --argstr n "$name-$i" > "$WORK/$name.out" 2>&1; then
    echo "$name: build failed:"; tail -5 "$WORK/$name.out" | sed 's/^/  /'
    return 1
  fi
  build=$(us "$t0")
  t0=$(date +%s%N)
  "$@" --argstr n "$name-$i" > /dev/null 2>&1
  echo "$build $(us "$t0")" >> "$WORK/$name.times"
}

# report NAME: min/median/max of build minus no-op over the recorded runs.
report() {
  awk '{ print ($1 - $2) / 1000 }' "$WORK/$1.times" | sort -n | awk -v name="$1" '
    { v[NR] = $1 }
    END {
      med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%-7s per-build overhead over %d builds: min %.1f ms, median %.1f ms, max %.1f ms\n", name, NR, v[1], med, v[NR]
    }'
  awk '{ b += $1; o += $2 } END { printf "        (mean wall time: build %.1f ms, no-op rerun %.1f ms)\n", b / NR / 1000, o / NR / 1000 }' "$WORK/$1.times"
}

nixkit() { "$NIXKIT" build triv.nix --store "$WORK/nixkit-store" --no-out-link "$@"; }
# No substituters: nothing may leave the machine; sandbox-fallback off so a sandbox that
# cannot be set up fails instead of silently building unsandboxed.
cppnix() {
  nix-build triv.nix --store "$WORK/cppnix-store" --no-out-link \
    --option sandbox true --option sandbox-fallback false --option substituters '' "$@"
}

CPPNIX=yes
if ! command -v nix-build > /dev/null 2>&1; then
  CPPNIX="not measured: nix-build is not installed (apt-get install nix-bin)"
elif [ "$(id -u)" != 0 ]; then
  CPPNIX="not measured: a sandboxed build into a chroot store needs root (build users)"
fi
: > "$WORK/nixkit.times"
: > "$WORK/cppnix.times"
# Interleaved, so both see the same machine load.
i=0
while [ "$i" -lt "$N" ]; do
  once nixkit "$i" nixkit
  if [ "$CPPNIX" = yes ] && ! once cppnix "$i" cppnix; then
    CPPNIX="not measured: the sandboxed build failed (see above)"
  fi
  i=$((i + 1))
done
report nixkit
if [ "$CPPNIX" = yes ]; then report cppnix; else echo "cppnix: $CPPNIX"; fi
