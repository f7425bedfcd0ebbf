#!/usr/bin/env bash
# Substitution over loopback HTTP: nixkit vs CppNix 2.8 fetching the same closure from the
# same `nixkit serve`, side by side in one run.
#
# Usage: substitute-vs-cppnix.sh [PATHS] [KIB_PER_PATH] [RUNS]
# Defaults: 200 paths of 2560 KiB (500 MiB in all, issue 16's size), best of 3 runs.
# Builds the release `nixkit` (or takes NIXKIT_BIN), makes PATHS-1 paths of random data and
# one path referring to all of them in a CppNix store, moves the closure into a nixkit store
# (export/import), serves it with `nixkit serve --sign-key` on 127.0.0.1, and times
#   nixkit store --store A --realise TOP --option substituters URL --option trusted-public-keys K
#   nix-store    --store B --realise TOP --option substituters URL --option trusted-public-keys K
# into fresh stores (each with an empty narinfo cache each run), runs interleaved
# (nixkit, CppNix, nixkit, ...), each run's store deleted after it, the best of each kept. Needs nix-store and
# nix-instantiate on PATH. A short smoke run: `substitute-vs-cppnix.sh 20 256 1`.
# NIXKIT_OPTS adds options to nixkit's command (e.g. `--option fsync-store-paths false`,
# which CppNix 2.8 does not do at all: it fsyncs only its database).
#
# Measured (2-core VM shared with other jobs, release build, 200 paths x 2560 KiB = 497 MiB,
# best of 3, interleaved):
#   before staged commits (3 fsyncs + 1 transaction per path):
#                                       nixkit 3.36 s, CppNix 3.21 s  -> 1.04x
#   the same with NIXKIT_OPTS="--option fsync-store-paths false" (CppNix 2.8's durability):
#                                       nixkit 1.31 s, CppNix 2.56 s  -> 0.51x
#   staged commits (batches of 64 paths / 256 MiB: one syncfs, one directory sync, one
#   SQLite transaction), default fsync: nixkit 1.51 s, CppNix 2.28 s  -> 0.66x
#   parallel restores (each path downloaded, hashed and restored into staging by one of
#   http-connections = 25 threads, committed in order in the same batches; narinfos fetched
#   level by level in parallel), default fsync, five runs at load averages 3 to 9:
#     nixkit 1.07 s, CppNix 2.21 s -> 0.49x     nixkit 1.23 s, CppNix 2.40 s -> 0.51x
#     nixkit 1.40 s, CppNix 2.71 s -> 0.52x     nixkit 1.19 s, CppNix 2.46 s -> 0.48x
#     nixkit 1.26 s, CppNix 2.84 s -> 0.44x
#   nixkit's peak RSS 27-28 MiB for the 497 MiB of NAR.
# The profile before parallel restores: 1 s of CPU in 2.1-2.6 s of wall time (100 paths),
# the rest waiting on fsyncs. After: about 0.8 s of CPU on two cores, half of it sha256 of
# the NARs (once, SHA-NI), the rest the kernel's socket and page-cache copies; the machine's
# two cores also run the server, so the wall time is near what the CPU work allows.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
if [ -n "${NIXKIT_BIN:-}" ]; then
    nixkit=$NIXKIT_BIN
else
    cargo build --release -q -p nixkit --manifest-path "$root/Cargo.toml"
    nixkit="${CARGO_TARGET_DIR:-$root/target}/release/nixkit"
fi
command -v nix-store >/dev/null || { echo "nix-store (CppNix) is required" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is required" >&2; exit 1; }

n=${1:-200}
kib=${2:-2560}
runs=${3:-3}
tmp=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    chmod -R u+w "$tmp" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

cpp="local?root=$tmp/cpp"
list=""
for i in $(seq 1 $((n - 1))); do
    mkdir -p "$tmp/src/p$i"
    head -c $((kib * 1024)) /dev/urandom >"$tmp/src/p$i/data"
    p=$(nix-store --store "$cpp" --add "$tmp/src/p$i")
    list="$list \"$p\""
done
top=$(nix-instantiate --store "$cpp" --read-write-mode --eval -E \
    "builtins.toFile \"top\" (builtins.concatStringsSep \"\\n\" (map builtins.storePath [ $list ]))" |
    tr -d '"')
# shellcheck disable=SC2046 # one argument per path
nix-store --store "$cpp" --export $(nix-store --store "$cpp" -qR "$top") |
    "$nixkit" store --store "$tmp/served" --import >/dev/null
"$nixkit" store --store "$tmp/served" --generate-binary-cache-key bench-1 "$tmp/sk" "$tmp/pk"
pk=$(cat "$tmp/pk")
nar_bytes=$("$nixkit" store --store "$tmp/served" --query --size $("$nixkit" store --store "$tmp/served" --query --requisites "$top") |
    awk '{ s += $1 } END { print s }')

"$nixkit" serve --store "$tmp/served" --listen 127.0.0.1:0 --sign-key "$tmp/sk" 2>"$tmp/serve.log" &
server=$!
for _ in $(seq 1 100); do
    grep -q '^listening on ' "$tmp/serve.log" 2>/dev/null && break
    sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$tmp/serve.log" | head -n 1)
[ -n "$url" ] || { echo "nixkit serve did not start:" >&2; cat "$tmp/serve.log" >&2; exit 1; }

timed() { # wall seconds of the function "$1" run with argument "$2"
    local t0 t1
    t0=$(date +%s.%N)
    "$1" "$2" >/dev/null 2>"$tmp/err" || { echo "$1 failed:" >&2; cat "$tmp/err" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
min() { echo "if ($1 < $2) $1 else $2" | bc -l; }
run_nixkit() {
    rm -rf "$tmp/nk$1" "$tmp/xdgnk$1"
    # shellcheck disable=SC2086 # NIXKIT_OPTS is a list of words
    XDG_CACHE_HOME="$tmp/xdgnk$1" /usr/bin/time -f %M -a -o "$tmp/rss" "$nixkit" store --store "$tmp/nk$1" --realise "$top" \
        --option substituters "$url" --option trusted-public-keys "$pk" ${NIXKIT_OPTS:-}
    [ "$("$nixkit" store --store "$tmp/nk$1" --query --requisites "$top" | wc -l)" -eq "$n" ]
}
run_cppnix() {
    chmod -R u+w "$tmp/cn$1" 2>/dev/null || true
    rm -rf "$tmp/cn$1" "$tmp/xdg$1"
    XDG_CACHE_HOME="$tmp/xdg$1" nix-store --store "local?root=$tmp/cn$1" --realise "$top" \
        --option substituters "$url" --option trusted-public-keys "$pk"
    [ "$(nix-store --store "local?root=$tmp/cn$1" -qR "$top" | wc -l)" -eq "$n" ]
}

report() { # name seconds
    printf '%-34s %8.3f s  %8.1f MiB/s\n' "$1" "$2" "$(echo "$nar_bytes / 1048576 / $2" | bc -l)"
}
echo "closure: $n paths, $((nar_bytes / 1048576)) MiB of NAR, served by nixkit serve at $url; best of $runs, interleaved"
# Interleaved: nixkit, CppNix, nixkit, CppNix, ...; the best of each is kept.
t_nixkit=999999
t_cppnix=999999
for r in $(seq 1 "$runs"); do
    t=$(timed run_nixkit "$r")
    t_nixkit=$(min "$t" "$t_nixkit")
    rm -rf "$tmp/nk$r"
    t=$(timed run_cppnix "$r")
    t_cppnix=$(min "$t" "$t_cppnix")
    chmod -R u+w "$tmp/cn$r" 2>/dev/null || true
    rm -rf "$tmp/cn$r" "$tmp/xdg$r"
done
report "nixkit store --realise" "$t_nixkit"
report "CppNix nix-store --realise" "$t_cppnix"
printf 'nixkit / CppNix: %.2f\n' "$(echo "$t_nixkit / $t_cppnix" | bc -l)"
printf 'nixkit peak RSS: %d MiB (for %d MiB of NAR)\n' \
    "$(($(sort -n "$tmp/rss" | tail -n 1) / 1024))" "$((nar_bytes / 1048576))"
