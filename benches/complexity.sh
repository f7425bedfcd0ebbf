#!/usr/bin/env bash
# Complexity audit: every builtin and operator at input size n and 8n, nixkit
# (release) against CppNix `nix-instantiate` (default heap), with each tool's
# growth exponent log(cost at 8n / cost at n) / log 8 and a verdict (WORSE when
# nixkit's exponent is above CppNix's by more than 0.25). The cases, one per
# builtin or operator and input dimension (list length, set size, string
# length, number of names in the second argument, nesting depth, ...), are in
# benches/complexity/cases.py; the method in benches/complexity/harness.py.
# Inputs and expressions are generated into $CARGO_TARGET_DIR/complexity.
#
# Usage: benches/complexity.sh [REPS]
#
# Environment:
#   NIXKIT_BENCH_RUNS  repetitions per point, the minimum is kept (default 3; also the first argument)
#   NIXKIT_BIN         nixkit binary (default: target/release/nixkit, built if missing)
#   CPPNIX_BIN         CppNix nix-instantiate (default: from PATH)
#   NIXKIT_BENCH_ONLY  substring filter on case names (e.g. "Attrs")
#   NIXKIT_COMPLEXITY_MARKDOWN=1  print the table as Markdown (for PERFORMANCE.md)
#   NIXKIT_COMPLEXITY_TARGET      seconds of operation time per run to calibrate to (default 0.15)
#   NIXKIT_COMPLEXITY_TIMEOUT     seconds before a run counts as failed (default 60)
set -u
repo="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=benches/common.sh
. "$repo/benches/common.sh"
NIXKIT_BIN="$nixkit" CPPNIX_BIN="$cppnix" python3 "$repo/benches/complexity/harness.py" "$@"
