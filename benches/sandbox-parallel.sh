#!/bin/sh
# Parallel building: 200 small independent derivations with -j 1 and -j 2, each into a
# fresh temporary store, plus the per-build sandbox overhead (wall time of -j 1 / 200).
# Usage: benches/sandbox-parallel.sh [N]   (needs busybox-static and user namespaces)
# benches/sandbox-overhead.sh measures the per-build overhead (min/median/max) against CppNix.
set -eu
N=${1:-200}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build -q --release -p nixkit --manifest-path "$ROOT/Cargo.toml"
NIXKIT="$ROOT/target/release/nixkit"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/bench.nix" <<NIX
let pkgs = import $ROOT/examples/pkgs {};
in builtins.genList (i: derivation {
  name = "bench-\${toString i}";
  system = builtins.currentSystem;
  builder = "\${pkgs.busybox}/busybox";
  args = [ "sh" "-c" "echo \${toString i} > \$out" ];
}) $N
NIX
now() { date +%s.%N; }
for j in 1 2; do
  start=$(now)
  "$NIXKIT" build "$WORK/bench.nix" --store "$WORK/store-j$j" --no-out-link -j "$j" -Q >/dev/null 2>&1
  end=$(now)
  t=$(echo "$end - $start" | bc)
  echo "-j $j: $N builds in ${t}s ($(echo "scale=1; $t * 1000 / $N" | bc) ms/build)"
done
