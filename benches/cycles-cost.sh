#!/usr/bin/env bash
# The cost of the evaluator's cycle collector, interleaved: a base nixkit binary with the
# collector off and on, the binary under test with the collector off (what `nixkit
# instantiate` does), and on (NIXKIT_COLLECT_CYCLES=1, as an embedder's evaluator: anchors
# registered while evaluating, collections in the middle of the evaluation when due, and
# one of the whole heap when the evaluator is dropped at the end).
#
# Usage: benches/cycles-cost.sh BASE_BIN NEW_BIN [RUNS] FILE...
# A file under a `realworld` directory is evaluated with `--arg libPath` nixpkgs lib 2022
# (NIXKIT_NIXPKGS_LIB_2022, default ../shared/corpus/nixpkgs-lib-2022/lib).
# Prints, per file and variant, median wall and CPU (user + system) seconds and peak RSS.
set -u
repo="$(cd "$(dirname "$0")/.." && pwd)"
base="$1" new="$2" runs="${3:-5}"
shift 3
lib="${NIXKIT_NIXPKGS_LIB_2022:-$repo/../shared/corpus/nixpkgs-lib-2022/lib}"
times="$(mktemp)"
trap 'rm -f "$times"' EXIT
for f in "$@"; do
  args=(--eval --strict "$f")
  case "$f" in *realworld*) args=(--readonly-mode --eval --strict --arg libPath "$lib" "$f") ;; esac
  for _ in $(seq "$runs"); do
    for v in base base-on off on; do
      bin="$new" flag=0
      case "$v" in base*) bin="$base" ;; esac
      case "$v" in *on) flag=1 ;; esac
      NIXKIT_COLLECT_CYCLES=$flag NIXKIT_PREFAULT=0 /usr/bin/time -f "$v $f %e %U %S %M" -a -o "$times" \
        "$bin" instantiate "${args[@]}" >/dev/null 2>&1 || echo "FAILED: $v $f" >&2
    done
  done
done
python3 - "$times" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 6:
        runs[(p[1], p[0])].append((float(p[2]), float(p[3]) + float(p[4]), int(p[5])))
print(f"{'file':50} {'variant':7} {'wall s':>7} {'cpu s':>7} {'MiB':>6}")
for (f, v), xs in sorted(runs.items()):
    print(f"{f[-50:]:50} {v:7} {statistics.median(x[0] for x in xs):7.2f} "
          f"{statistics.median(x[1] for x in xs):7.2f} {max(x[2] for x in xs) // 1024:6}")
PY
