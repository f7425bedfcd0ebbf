#!/usr/bin/env bash
# Whole-process benchmark: nixkit (release) vs CppNix `nix-instantiate`.
#
# For each *.nix in the bench directory, runs
#   nixkit instantiate --eval --strict FILE
#   GC_INITIAL_HEAP_SIZE=32M nix-instantiate --eval --strict FILE
# N times each, checks the output against FILE's .exp, and prints
# min/median/max wall time, the median time ratio, peak RSS (max over runs,
# from /usr/bin/time -f %M) and the memory ratio, then the geometric mean of
# the time ratios.
#
# Environment:
#   NIXKIT_BENCH_DIR  bench directory (default: ../shared/bench relative to the repo)
#   NIXKIT_BENCH_RUNS runs per tool and workload (default 5; also the first argument)
#   NIXKIT_BIN        nixkit binary (default: target/release/nixkit, built if missing)
#   CPPNIX_BIN        CppNix nix-instantiate (default: from PATH)
#   NIXKIT_BENCH_ONLY substring filter on workload names
set -u
repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="${NIXKIT_BENCH_DIR:-$repo/../shared/bench}"
runs="${1:-${NIXKIT_BENCH_RUNS:-5}}"

if [ ! -d "$dir" ]; then echo "bench directory not found: $dir" >&2; exit 1; fi
# A directory with a generator (benches/workloads) is generated into target/ first.
if [ -f "$dir/gen.py" ]; then
  dir="$(python3 "$dir/gen.py" "$repo/target/bench-workloads")" || exit 1
fi
# shellcheck source=benches/common.sh
. "$repo/benches/common.sh"

# run TOOL FILE -> appends "seconds kib" to $tmp/TOOL.times; sets ok=0 on wrong output
run_one() {
  local tool="$1" file="$2" exp="$3" out="$tmp/out" err="$tmp/err" tf="$tmp/time"
  if [ "$tool" = nixkit ]; then
    /usr/bin/time -f '%e %M' -o "$tf" "$nixkit" instantiate --eval --strict "$file" >"$out" 2>"$err"
  else
    GC_INITIAL_HEAP_SIZE=32M /usr/bin/time -f '%e %M' -o "$tf" "$cppnix" --eval --strict "$file" >"$out" 2>"$err"
  fi
  local rc=$? msg=""
  if [ $rc -ne 0 ]; then
    msg="  $tool failed on $(basename "$file") (exit $rc): $(head -c 300 "$err")"
  elif [ -f "$exp" ] && ! cmp -s "$out" "$exp"; then
    msg="  $tool: wrong output for $(basename "$file")"
  fi
  if [ -n "$msg" ]; then
    ok=0
    # Report each tool's failure once per workload, not once per run.
    case " $reported " in *" $tool "*) ;; *) echo "$msg" >&2; reported="$reported $tool" ;; esac
  fi
  # GNU time prints "Command exited with non-zero status" first on failure.
  tail -n 1 "$tf" >>"$tmp/$tool.times"
}

# stats FILE -> "min median max maxrss"
stats() {
  sort -n -k1,1 "$1" | awk '{t[NR]=$1; if ($2>m) m=$2} END {
    n=NR; med = (n%2) ? t[(n+1)/2] : (t[n/2]+t[n/2+1])/2;
    printf "%.2f %.2f %.2f %d", t[1], med, t[n], m }'
}

printf '%-16s %-20s %-20s %7s %10s %10s %7s %s\n' workload "nixkit min/med/max" "cppnix min/med/max" ratio "nixkit MiB" "cppnix MiB" mem ok
logsum=0; count=0
for file in "$dir"/*.nix; do
  name="$(basename "$file" .nix)"
  case "$name" in *"$only"*) ;; *) continue ;; esac
  exp="$dir/$name.exp"; ok=1; reported=""
  rm -f "$tmp"/*.times
  for _ in $(seq "$runs"); do
    run_one nixkit "$file" "$exp"
    [ -n "$cppnix" ] && run_one cppnix "$file" "$exp"
  done
  read -r nmin nmed nmax nrss <<<"$(stats "$tmp/nixkit.times")"
  nmib=$(awk -v k="$nrss" 'BEGIN{printf "%.0f", k/1024}')
  if [ -n "$cppnix" ]; then
    read -r cmin cmed cmax crss <<<"$(stats "$tmp/cppnix.times")"
    cmib=$(awk -v k="$crss" 'BEGIN{printf "%.0f", k/1024}')
    ratio=$(awk -v a="$nmed" -v b="$cmed" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a" }')
    mem=$(awk -v a="$nrss" -v b="$crss" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a" }')
    if [ "$ratio" != n/a ] && [ "$ok" = 1 ]; then
      logsum=$(awk -v s="$logsum" -v r="$ratio" 'BEGIN{ printf "%.6f", s + log(r) }'); count=$((count + 1))
    fi
    cpp="$cmin/$cmed/$cmax"
  else
    cpp="-"; cmib="-"; ratio="-"; mem="-"
  fi
  printf '%-16s %-20s %-20s %7s %10s %10s %7s %s\n' "$name" "$nmin/$nmed/$nmax" "$cpp" "$ratio" "$nmib" "$cmib" "$mem" \
    "$([ "$ok" = 1 ] && echo yes || echo NO)"
done
if [ "$count" -gt 0 ]; then
  awk -v s="$logsum" -v n="$count" 'BEGIN{ printf "geometric mean of time ratios (%d workloads with correct output): %.2f\n", n, exp(s/n) }'
elif [ -z "$cppnix" ]; then
  echo "CppNix absent: no ratios computed."
fi
