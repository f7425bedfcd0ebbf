#!/usr/bin/env bash
# Regenerates the golden derivations with CppNix (`nix-instantiate`, tested with 2.8).
#
# Usage: generate.sh [N] [OUT_DIR] [STORE_DIR]
#   N          number of cases from cases.nix (default 1000, the committed set; their input derivations come too)
#   OUT_DIR    where to write expected.tsv and drvs/ (default: this directory)
#   STORE_DIR  logical store directory (default /nix/store)
#
# Writes OUT_DIR/expected.tsv (one line per case: drvPath, then output=path, tab-separated;
# floating outputs show their downstream placeholder) and OUT_DIR/drvs/*.drv (every
# derivation CppNix wrote, byte for byte). Uses a throw-away chroot store, never /nix.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
n=${1:-1000}
out=${2:-$here}
store_dir=${3:-/nix/store}

root=$(mktemp -d)
trap 'chmod -R u+w "$root" 2>/dev/null; rm -rf "$root"' EXIT

args=(--store "local?root=$root&store=$store_dir"
      --extra-experimental-features ca-derivations
      --arg n "$n" --arg ca true)

nix-instantiate "${args[@]}" "$here/cases.nix" -A cases >/dev/null 2>"$root/log" || {
    cat "$root/log" >&2
    exit 1
}
mkdir -p "$out"
nix-instantiate "${args[@]}" --eval --strict --json "$here/cases.nix" -A expected \
    | jq -r '.[]' >"$out/expected.tsv"
rm -rf "$out/drvs"
mkdir -p "$out/drvs"
find "$root" -name '*.drv' -type f -exec cp {} "$out/drvs/" \;
chmod u+w,go+r "$out"/drvs/*.drv
echo "generated $(wc -l <"$out/expected.tsv") cases, $(ls "$out/drvs" | wc -l) derivations in $out" >&2
