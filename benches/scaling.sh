#!/usr/bin/env bash
# Scaling benchmark: nixkit (release) vs CppNix `nix-instantiate` at 1x, 4x and
# 16x input size.
#
# Three workloads under benches/scaling/, parameterised copies of the shared
# ones in ../shared/bench (scale = 1 reproduces the original exactly):
#   attrs.nix    b-attrs    (listToAttrs/mapAttrs/`//`/lookups, 100k x scale keys)
#   lists.nix    d-lists    (genList/map/filter/sort/elem, 400k x scale elements)
#   modules.nix  e-modules  (lib.evalModules, 5000 x scale options, 1000 x scale submodules)
#   callpackage.nix (nixpkgs-shaped: callPackage over a fixpoint of 10k x scale
#                packages, two overlays, override; intersectAttrs against the pool)
# For each workload and scale, runs
#   nixkit instantiate --eval --strict --arg scale S FILE
#   GC_INITIAL_HEAP_SIZE=32M nix-instantiate --eval --strict --arg scale S FILE
# N times each, checks that both tools print the same output, and prints the
# median wall time and peak RSS (max over runs, /usr/bin/time -f %M) of each,
# the time ratio nixkit/CppNix, and each tool's growth factors (time and
# memory) relative to its own 1x run, so linearity can be judged (4x and 16x
# growth of ~4 and ~16 is linear; the sort in lists.nix is n log n).
#
# Usage: benches/scaling.sh [RUNS]
#
# Environment:
#   NIXKIT_BENCH_RUNS  runs per tool, workload and scale (default 3; also the first argument)
#   NIXKIT_BIN         nixkit binary (default: target/release/nixkit, built if missing)
#   CPPNIX_BIN         CppNix nix-instantiate (default: from PATH)
#   NIXKIT_BENCH_ONLY  substring filter on workload names (attrs, lists, modules, callpackage)
#   NIXKIT_SCALES      scale factors (default "1 4 16"; the first is the growth baseline)
#   NIXKIT_NIXPKGS_LIB_2022  nixpkgs lib (2022) directory for modules.nix
#                      (default: ../shared/corpus/nixpkgs-lib-2022/lib relative to the
#                      repo); modules is skipped with a SKIP line if it is absent
set -u
repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="$repo/benches/scaling"
runs="${1:-${NIXKIT_BENCH_RUNS:-3}}"
scales="${NIXKIT_SCALES:-1 4 16}"
lib2022="${NIXKIT_NIXPKGS_LIB_2022:-$repo/../shared/corpus/nixpkgs-lib-2022/lib}"

# shellcheck source=benches/common.sh
. "$repo/benches/common.sh"

# run_one TOOL FILE ARGS... -> appends "seconds kib" to $tmp/TOOL.times and
# leaves the output in $tmp/TOOL.out; sets ok=0 on failure
run_one() {
  local tool="$1" file="$2"; shift 2
  local out="$tmp/$tool.out" err="$tmp/err" tf="$tmp/time"
  if [ "$tool" = nixkit ]; then
    /usr/bin/time -f '%e %M' -o "$tf" "$nixkit" instantiate --eval --strict "$@" "$file" >"$out" 2>"$err"
  else
    GC_INITIAL_HEAP_SIZE=32M /usr/bin/time -f '%e %M' -o "$tf" "$cppnix" --eval --strict "$@" "$file" >"$out" 2>"$err"
  fi
  local rc=$?
  if [ $rc -ne 0 ]; then
    ok=0
    case " $reported " in *" $tool "*) ;; *)
      echo "  $tool failed on $(basename "$file") $* (exit $rc): $(head -c 300 "$err")" >&2
      reported="$reported $tool" ;; esac
  fi
  tail -n 1 "$tf" >>"$tmp/$tool.times"
}

# stats FILE -> "median maxrss_kib"
stats() {
  sort -n -k1,1 "$1" | awk '{t[NR]=$1; if ($2>m) m=$2} END {
    n=NR; med = (n%2) ? t[(n+1)/2] : (t[n/2]+t[n/2+1])/2;
    printf "%.2f %d", med, m }'
}
div() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a" }'; }
mib() { awk -v k="$1" 'BEGIN{ printf "%.0f", k/1024 }'; }

echo "runs per point: $runs; growth = value at this scale / value at scale ${scales%% *} (same tool)"
printf '%-8s %5s %9s %10s %9s %10s %6s %12s %12s %12s %12s %s\n' \
  workload scale "nixkit s" "nixkit MiB" "CppNix s" "CppNix MiB" ratio \
  "nk t-growth" "nk m-growth" "cpp t-growth" "cpp m-growth" same
for name in attrs lists modules callpackage; do
  case "$name" in *"$only"*) ;; *) continue ;; esac
  file="$dir/$name.nix"
  extra=()
  if [ "$name" = modules ]; then
    if [ ! -f "$lib2022/default.nix" ]; then
      echo "SKIP modules: nixpkgs lib (2022) not found at $lib2022 (set NIXKIT_NIXPKGS_LIB_2022)"
      continue
    fi
    extra=(--argstr libPath "$(cd "$lib2022" && pwd)")
  fi
  base_nt=""; base_nm=""; base_ct=""; base_cm=""
  for s in $scales; do
    ok=1; reported=""; same=yes
    rm -f "$tmp"/*.times
    for _ in $(seq "$runs"); do
      run_one nixkit "$file" --arg scale "$s" ${extra[@]+"${extra[@]}"}
      if [ -n "$cppnix" ]; then
        run_one cppnix "$file" --arg scale "$s" ${extra[@]+"${extra[@]}"}
        cmp -s "$tmp/nixkit.out" "$tmp/cppnix.out" || same=NO
      fi
    done
    [ "$ok" = 1 ] || same=FAIL
    [ -z "$cppnix" ] && [ "$ok" = 1 ] && same="-"
    read -r nt nk <<<"$(stats "$tmp/nixkit.times")"
    [ -z "$base_nt" ] && { base_nt=$nt; base_nm=$nk; }
    if [ -n "$cppnix" ]; then
      read -r ct ck <<<"$(stats "$tmp/cppnix.times")"
      [ -z "$base_ct" ] && { base_ct=$ct; base_cm=$ck; }
      cs=$ct; cm=$(mib "$ck"); ratio=$(div "$nt" "$ct")
      cg="$(div "$ct" "$base_ct")"; cmg="$(div "$ck" "$base_cm")"
    else
      cs="-"; cm="-"; ratio="-"; cg="-"; cmg="-"
    fi
    printf '%-8s %5s %9s %10s %9s %10s %6s %12s %12s %12s %12s %s\n' \
      "$name" "${s}x" "$nt" "$(mib "$nk")" "$cs" "$cm" "$ratio" \
      "$(div "$nt" "$base_nt")" "$(div "$nk" "$base_nm")" "$cg" "$cmg" "$same"
    if [ "$same" = NO ]; then
      echo "  outputs differ at ${s}x: nixkit: $(head -c 200 "$tmp/nixkit.out") | CppNix: $(head -c 200 "$tmp/cppnix.out")" >&2
    fi
  done
done
