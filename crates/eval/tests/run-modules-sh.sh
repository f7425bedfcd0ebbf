#!/usr/bin/env bash
# Runs nixpkgs' lib/tests/modules.sh (the module system test suite) with
# nixkit standing in for `nix-instantiate`, and reports its pass/fail counts.
#
# Usage: crates/eval/tests/run-modules-sh.sh [path/to/nixkit]
#   NIXKIT_NIXPKGS_LIB  the nixpkgs checkout holding lib/ (default:
#                       ../shared/corpus/nixpkgs-lib next to the workspace)
# Builds target/debug/nixkit first when no binary is given. Prints
# "skipped: ..." and exits 0 when the corpus is absent. Exits with
# modules.sh's status (non-zero when any test fails).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../../.." && pwd)"
lib_root="${NIXKIT_NIXPKGS_LIB:-$workspace/../shared/corpus/nixpkgs-lib}"

if [[ ! -f "$lib_root/lib/tests/modules.sh" ]]; then
    echo "skipped: nixpkgs lib not found at $lib_root (set NIXKIT_NIXPKGS_LIB)"
    exit 0
fi

nixkit="${1:-}"
if [[ -z "$nixkit" ]]; then
    (cd "$workspace" && cargo build --quiet -p nixkit)
    nixkit="$workspace/target/debug/nixkit"
fi
nixkit="$(cd "$(dirname "$nixkit")" && pwd)/$(basename "$nixkit")"

bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
ln -s "$nixkit" "$bin/nix-instantiate"

# modules.sh cds into lib/tests/modules and imports ../../.. relative paths;
# it needs bash, GNU grep (-P) and nix-instantiate only.
log="$bin/modules.log"
status=0
PATH="$bin:$PATH" NIX_PATH= bash "$lib_root/lib/tests/modules.sh" >"$log" 2>&1 || status=$?

# Failure reports, then the summary modules.sh prints last.
grep -E 'TEST FAILED|EXPECTED' "$log" | head -n 200 || true
sed -n '/====== module tests ======/,$p' "$log"
pass="$(sed -n 's/^\([0-9]*\) Pass$/\1/p' "$log")"
fail="$(sed -n 's/^\([0-9]*\) Fail$/\1/p' "$log")"
echo "nixkit modules.sh: pass=${pass:-?} fail=${fail:-?} (exit $status)"
if [[ -n "${NIXKIT_MODULES_LOG:-}" ]]; then
    cp "$log" "$NIXKIT_MODULES_LOG"
fi
exit "$status"
