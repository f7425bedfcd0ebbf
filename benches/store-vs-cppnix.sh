#!/usr/bin/env bash
# NAR dump + sha256 throughput: nixkit vs CppNix on the same tree, in one run.
#
# Usage: store-vs-cppnix.sh [TREE_DIR]
# Builds the release `nixkit` binary, generates a tree (2,000 small files and three 8 MiB
# files, about 24 MiB, like benches/benches/store.rs) unless TREE_DIR is given, and times
# `nix-store --dump | sha256sum` against `nixkit store --dump | sha256sum`, and
# `nix-hash --type sha256` against `nixkit hash --type sha256` (dump and hash in-process),
# best of 5 runs each. Needs CppNix (`nix-store`, `nix-hash`) on PATH; touches no store.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cargo build --release -q -p nixkit --manifest-path "$root/Cargo.toml"
nixkit="$root/target/release/nixkit"

tree=${1:-}
if [ -z "$tree" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    tree="$tmp/tree"
    for d in $(seq -w 0 19); do
        mkdir -p "$tree/dir$d"
        for f in $(seq 0 99); do
            { yes "file $d $f" || true; } | head -n $((f + 1)) >"$tree/dir$d/f$f"
        done
    done
    for i in 0 1 2; do
        head -c $((8 << 20)) /dev/urandom >"$tree/big$i"
    done
fi

size=$(nix-store --dump "$tree" | wc -c)
best() { # best wall time in seconds of 5 runs of "$@"
    local best=999999 t0 t1 t
    for _ in 1 2 3 4 5; do
        t0=$(date +%s.%N)
        "$@" >/dev/null
        t1=$(date +%s.%N)
        t=$(echo "$t1 - $t0" | bc -l)
        best=$(echo "if ($t < $best) $t else $best" | bc -l)
    done
    echo "$best"
}
report() { # name seconds
    printf '%-40s %8.4f s  %8.1f MiB/s\n' "$1" "$2" "$(echo "$size / 1048576 / $2" | bc -l)"
}

[ "$(nix-store --dump "$tree" | sha256sum)" = "$("$nixkit" store --dump "$tree" | sha256sum)" ] \
    || { echo "NAR dumps differ" >&2; exit 1; }
[ "$(nix-hash --type sha256 "$tree")" = "$("$nixkit" hash --type sha256 "$tree")" ] \
    || { echo "NAR hashes differ" >&2; exit 1; }

echo "tree: $tree, NAR size $size bytes"
report "nix-store --dump | sha256sum" "$(best sh -c "nix-store --dump '$tree' | sha256sum")"
report "nixkit store --dump | sha256sum" "$(best sh -c "'$nixkit' store --dump '$tree' | sha256sum")"
report "nix-hash --type sha256" "$(best nix-hash --type sha256 "$tree")"
report "nixkit hash --type sha256" "$(best "$nixkit" hash --type sha256 "$tree")"
