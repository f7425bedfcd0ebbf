#!/usr/bin/env bash
# Real-world-shaped workloads: nixkit (release) against CppNix `nix-instantiate`
# 2.8 in one interleaved run.
#
#   packages   a nixpkgs-like package set (benches/realworld/gen_packages.py):
#              20,000 + 2,000 packages through callPackage, makeScope and
#              overrideScope', two overlays with override/overrideAttrs, a
#              mkDerivation wrapper making real derivations (string contexts,
#              fixed-output sources), meta checks, an `nix-env -qa`-style walk
#   modules    a NixOS-like evaluation through nixpkgs lib's evalModules
#              (benches/realworld/gen_modules.py): 500 service modules, about
#              3,000 top-level options plus submodule ones, nested submodules,
#              mkIf/mkMerge/mkDefault/mkForce/mkOverride/mkBefore/mkAfter,
#              1,050 users, 450 systemd units, generated /etc files
#   libfuns    nixpkgs lib's own functions (benches/realworld/lib-functions.nix)
# The generated inputs go to $CARGO_TARGET_DIR/realworld (default target/realworld).
# Each workload needs nixpkgs lib 2022 (NIXKIT_NIXPKGS_LIB_2022, default
# ../shared/corpus/nixpkgs-lib-2022/lib; without it the script prints SKIP).
#
# Per workload and run, interleaved: nixkit; nixkit with NIXKIT_PREFAULT=0;
# CppNix with its default heap (what users run: the time comparison); CppNix
# with GC_INITIAL_HEAP_SIZE=32M (the memory comparison). The table gives
# median wall seconds, median CPU seconds (user + system, all threads), peak
# RSS (max over runs), the ratios nixkit/CppNix, and whether all printed the
# same output.
#
# Usage: benches/realworld-vs-cppnix.sh [RUNS]
# Environment: NIXKIT_BENCH_RUNS (default 3), NIXKIT_BIN, CPPNIX_BIN,
#   NIXKIT_BENCH_ONLY (packages, modules, libfuns), NIXKIT_NIXPKGS_LIB_2022
set -u
repo="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-${NIXKIT_BENCH_RUNS:-3}}"
lib2022="${NIXKIT_NIXPKGS_LIB_2022:-$repo/../shared/corpus/nixpkgs-lib-2022/lib}"
out="${CARGO_TARGET_DIR:-$repo/target}/realworld"

# shellcheck source=benches/common.sh
. "$repo/benches/common.sh"

if [ ! -f "$lib2022/default.nix" ]; then
  echo "SKIP: nixpkgs lib (2022) not found at $lib2022 (set NIXKIT_NIXPKGS_LIB_2022)"
  exit 0
fi
lib2022="$(cd "$lib2022" && pwd)"
mkdir -p "$out"
python3 - "$repo/benches/realworld" "$out" <<'EOF' || { echo "generation failed" >&2; exit 1; }
import sys
sys.path.insert(0, sys.argv[1])
import gen_modules, gen_packages
gen_packages.generate(sys.argv[2] + "/packages", 20000)
gen_modules.generate(sys.argv[2] + "/modules")
EOF

# run_one LABEL FILE -> appends "wall cpu kib" to $tmp/LABEL.times, output in $tmp/LABEL.out
run_one() {
  local label="$1" file="$2" tf="$tmp/time" rc
  local args=(--readonly-mode --eval --strict --arg libPath "$lib2022" "$file")
  case "$label" in
    nixkit) /usr/bin/time -f '%e %U %S %M' -o "$tf" "$nixkit" instantiate "${args[@]}" >"$tmp/$label.out" 2>"$tmp/err" ;;
    nixkit-nopf) NIXKIT_PREFAULT=0 /usr/bin/time -f '%e %U %S %M' -o "$tf" "$nixkit" instantiate "${args[@]}" >"$tmp/$label.out" 2>"$tmp/err" ;;
    cppnix) env -u GC_INITIAL_HEAP_SIZE /usr/bin/time -f '%e %U %S %M' -o "$tf" "$cppnix" "${args[@]}" >"$tmp/$label.out" 2>"$tmp/err" ;;
    cppnix-32m) GC_INITIAL_HEAP_SIZE=32M /usr/bin/time -f '%e %U %S %M' -o "$tf" "$cppnix" "${args[@]}" >"$tmp/$label.out" 2>"$tmp/err" ;;
  esac
  rc=$?
  if [ $rc -ne 0 ]; then
    ok=0
    echo "  $label failed on $(basename "$(dirname "$file")")/$(basename "$file") (exit $rc): $(grep -m1 error "$tmp/err" | head -c 300)" >&2
  fi
  tail -n 1 "$tf" | awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' >>"$tmp/$label.times"
}

# median COLUMN FILE
median() {
  sort -n -k"$1,$1" "$2" | awk -v c="$1" '{ v[NR] = $c } END {
    printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# stats FILE -> "median_wall median_cpu max_kib"
stats() {
  echo "$(median 1 "$1") $(median 2 "$1") $(awk '{ if ($3 > m) m = $3 } END { print m + 0 }' "$1")"
}
div() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a" }'; }
mib() { awk -v k="$1" 'BEGIN{ printf "%.0f", k/1024 }'; }

echo "runs: $runs; medians; CPU = user + system, all threads; memory: peak RSS, CppNix with GC_INITIAL_HEAP_SIZE=32M"
printf '%-9s %8s %8s %10s %7s | %8s %8s %9s | %6s %6s %11s %6s %s\n' workload "nk wall" "nk cpu" "nk cpu-pf0" "nk MiB" \
  "cpp wall" "cpp cpu" "cpp32 MiB" "wall x" "cpu x" "cpu-pf0 x" "mem x" same
for name in packages modules libfuns; do
  case "$name" in *"$only"*) ;; *) continue ;; esac
  case "$name" in
    packages) file="$out/packages/default.nix" ;;
    modules) file="$out/modules/default.nix" ;;
    libfuns) file="$repo/benches/realworld/lib-functions.nix" ;;
  esac
  rm -f "$tmp"/*.times
  ok=1; same=yes
  labels="nixkit nixkit-nopf"
  [ -n "$cppnix" ] && labels="$labels cppnix cppnix-32m"
  for _ in $(seq "$runs"); do
    for label in $labels; do
      run_one "$label" "$file"
    done
    for label in $labels; do
      cmp -s "$tmp/nixkit.out" "$tmp/$label.out" || same=NO
    done
  done
  [ "$ok" = 1 ] || same=FAIL
  read -r nw nc nk <<<"$(stats "$tmp/nixkit.times")"
  read -r _ npc _ <<<"$(stats "$tmp/nixkit-nopf.times")"
  if [ -n "$cppnix" ]; then
    read -r cw cc _ <<<"$(stats "$tmp/cppnix.times")"
    read -r _ _ ck <<<"$(stats "$tmp/cppnix-32m.times")"
    printf '%-9s %8s %8s %10s %7s | %8s %8s %9s | %6s %6s %11s %6s %s\n' "$name" "$nw" "$nc" "$npc" "$(mib "$nk")" \
      "$cw" "$cc" "$(mib "$ck")" "$(div "$nw" "$cw")" "$(div "$nc" "$cc")" "$(div "$npc" "$cc")" "$(div "$nk" "$ck")" "$same"
  else
    printf '%-9s %8s %8s %10s %7s | %8s %8s %9s | %6s %6s %11s %6s %s\n' "$name" "$nw" "$nc" "$npc" "$(mib "$nk")" \
      - - - - - - - -
  fi
  if [ "$same" = NO ]; then
    echo "  outputs differ: nixkit: $(head -c 200 "$tmp/nixkit.out") | CppNix: $(head -c 200 "$tmp/cppnix.out")" >&2
  fi
done
