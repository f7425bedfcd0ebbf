#!/usr/bin/env bash
# Whole-process benchmark: nixkit (release) vs CppNix `nix-instantiate`.
#
# For each *.nix in the bench directory, runs, interleaved, N times each:
#   nixkit instantiate --eval --strict FILE
#   nix-instantiate --eval --strict FILE             (CppNix as users run it: time, CPU)
#   GC_INITIAL_HEAP_SIZE=32M nix-instantiate ...     (CppNix with a fixed heap: memory)
# checks every output against FILE's .exp, and prints the median wall time,
# the median CPU time (user + system, all threads: nixkit's prefault thread
# and CppNix's parallel marking included), their ratios, peak RSS (max over
# runs, /usr/bin/time -f %M) against the 32 MiB-heap CppNix, and the
# geometric means of the wall and CPU ratios. NIXKIT_BENCH_NOPREFAULT=1 adds
# a nixkit run with NIXKIT_PREFAULT=0 and its CPU time.
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

# run TOOL FILE EXP -> appends "wall cpu kib" to $tmp/TOOL.times; sets ok=0 on wrong output
run_one() {
  local tool="$1" file="$2" exp="$3" out="$tmp/out" err="$tmp/err" tf="$tmp/time"
  local fmt='%e %U %S %M'
  case "$tool" in
    nixkit) /usr/bin/time -f "$fmt" -o "$tf" "$nixkit" instantiate --eval --strict "$file" >"$out" 2>"$err" ;;
    nixkit-noprefault) NIXKIT_PREFAULT=0 /usr/bin/time -f "$fmt" -o "$tf" "$nixkit" instantiate --eval --strict "$file" >"$out" 2>"$err" ;;
    cppnix) /usr/bin/time -f "$fmt" -o "$tf" "$cppnix" --eval --strict "$file" >"$out" 2>"$err" ;;
    cppnix32) GC_INITIAL_HEAP_SIZE=32M /usr/bin/time -f "$fmt" -o "$tf" "$cppnix" --eval --strict "$file" >"$out" 2>"$err" ;;
  esac
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
  tail -n 1 "$tf" | awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' >>"$tmp/$tool.times"
}

# median FILE COLUMN -> the median of that column; maxcol FILE COLUMN -> its maximum
median() {
  sort -n -k"$2","$2" "$1" | awk -v c="$2" '{t[NR]=$c} END {
    n=NR; printf "%.2f", (n%2) ? t[(n+1)/2] : (t[n/2]+t[n/2+1])/2 }'
}
maxcol() { awk -v c="$2" '$c>m {m=$c} END {printf "%.0f", m/1024}' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a" }'; }

noprefault="${NIXKIT_BENCH_NOPREFAULT:-0}"
printf '%-18s %8s %8s %6s | %8s %8s %6s | %8s %8s %6s | %s\n' workload "nk wall" "cpp wall" ratio \
  "nk cpu" "cpp cpu" ratio "nk MiB" "cpp32MiB" ratio ok
[ "$noprefault" = 1 ] && echo "(nk cpu0 = nixkit's CPU time with NIXKIT_PREFAULT=0, printed after ok)"
wsum=0; csum=0; count=0
for file in "$dir"/*.nix; do
  name="$(basename "$file" .nix)"
  case "$name" in *"$only"*) ;; *) continue ;; esac
  exp="$dir/$name.exp"; ok=1; reported=""
  rm -f "$tmp"/*.times
  for _ in $(seq "$runs"); do
    run_one nixkit "$file" "$exp"
    [ "$noprefault" = 1 ] && run_one nixkit-noprefault "$file" "$exp"
    if [ -n "$cppnix" ]; then
      run_one cppnix "$file" "$exp"
      run_one cppnix32 "$file" "$exp"
    fi
  done
  nw=$(median "$tmp/nixkit.times" 1); nc=$(median "$tmp/nixkit.times" 2); nm=$(maxcol "$tmp/nixkit.times" 3)
  extra=""
  [ "$noprefault" = 1 ] && extra=" cpu0 $(median "$tmp/nixkit-noprefault.times" 2)"
  if [ -n "$cppnix" ]; then
    cw=$(median "$tmp/cppnix.times" 1); cc=$(median "$tmp/cppnix.times" 2); cm=$(maxcol "$tmp/cppnix32.times" 3)
    wr=$(ratio "$nw" "$cw"); cr=$(ratio "$nc" "$cc"); mr=$(ratio "$nm" "$cm")
    if [ "$wr" != n/a ] && [ "$cr" != n/a ] && [ "$ok" = 1 ]; then
      wsum=$(awk -v s="$wsum" -v r="$wr" 'BEGIN{ printf "%.6f", s + log(r) }')
      csum=$(awk -v s="$csum" -v r="$cr" 'BEGIN{ printf "%.6f", s + log(r) }'); count=$((count + 1))
    fi
  else
    cw="-"; cc="-"; cm="-"; wr="-"; cr="-"; mr="-"
  fi
  printf '%-18s %8s %8s %6s | %8s %8s %6s | %8s %8s %6s | %s%s\n' "$name" "$nw" "$cw" "$wr" \
    "$nc" "$cc" "$cr" "$nm" "$cm" "$mr" "$([ "$ok" = 1 ] && echo yes || echo NO)" "$extra"
done
if [ "$count" -gt 0 ]; then
  awk -v w="$wsum" -v c="$csum" -v n="$count" 'BEGIN{ printf "geometric means (%d workloads with correct output): wall %.2f, CPU %.2f\n", n, exp(w/n), exp(c/n) }'
elif [ -z "$cppnix" ]; then
  echo "CppNix absent: no ratios computed."
fi
