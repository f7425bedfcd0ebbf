#!/usr/bin/env bash
# The daemon under load: `nixkit daemon` against CppNix 2.8's `nix-daemon`, each on a
# fresh store of its own, driven by the same worker-protocol client (`daemon-load`):
# CLIENTS connections at once, each adding OPS small text files and querying each one's
# path info. Runs alternate between the daemons (ROUNDS each): nixkit in both connection
# models (`process`, its default and CppNix's: a process per connection; `thread`: a thread
# per connection) and CppNix; reported: operations per second (median), and resident
# memory of the daemon's processes with all CLIENTS connected, per connection.
# Binaries come from CARGO_TARGET_DIR (default target/) and are built with the release
# profile (CARGO_PROFILE_RELEASE_* variables may lighten it), unless NIXKIT_BIN and
# DAEMON_LOAD_BIN name them.
#
# Usage: daemon-vs-cppnix.sh [CLIENTS [OPS [ROUNDS]]]   (defaults: 32 200 3)
# Needs CppNix (`nix-daemon`) on PATH; runs as root (CppNix's daemon needs it for its
# store here). Touches no system store.
set -euo pipefail

clients=${1:-32}
ops=${2:-200}
rounds=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
if [ -z "${NIXKIT_BIN:-}" ] || [ -z "${DAEMON_LOAD_BIN:-}" ]; then
    cargo build --release -q -p nixkit -p nixkit-benches --bin nixkit --bin daemon-load \
        --manifest-path "$root/Cargo.toml"
fi
nixkit=${NIXKIT_BIN:-$target/release/nixkit}
load=${DAEMON_LOAD_BIN:-$target/release/daemon-load}
command -v nix-daemon >/dev/null || { echo "skipped: nix-daemon (CppNix) not on PATH"; exit 0; }

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# Resident memory (KiB) of a process and all its descendants.
tree_rss() {
    local total=0 p
    for p in $(ps -o pid= --ppid "$1") "$1"; do
        total=$((total + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

start_daemon() { # kind dir -> pid
    local kind=$1 dir=$2
    mkdir -p "$dir"
    if [ "${kind%%-*}" = nixkit ]; then
        "$nixkit" daemon --connection-model "${kind#nixkit-}" --store "$dir/root" \
            --socket "$dir/sock" >/dev/null 2>&1 &
    else
        NIX_DAEMON_SOCKET_PATH="$dir/sock" nix-daemon --store "$dir/root" >/dev/null 2>&1 &
    fi
    local pid=$!
    for _ in $(seq 100); do [ -S "$dir/sock" ] && break; sleep 0.05; done
    echo "$pid"
}

declare -A rate mem
for round in $(seq "$rounds"); do
    for kind in nixkit-process nixkit-thread cppnix; do
        dir="$tmp/$kind-$round"
        pid=$(start_daemon "$kind" "$dir")
        pids+=("$pid")
        base=$(tree_rss "$pid")
        "$load" "$dir/sock" "$clients" "$ops" 1500 >"$dir/out" &
        lpid=$!
        # Sample the daemon's memory while every client is connected.
        peak=0
        while kill -0 "$lpid" 2>/dev/null; do
            r=$(tree_rss "$pid"); [ "$r" -gt "$peak" ] && peak=$r
            sleep 0.1
        done
        wait "$lpid"
        r=$(awk '{print $6}' "$dir/out")
        rate[$kind]="${rate[$kind]:-} $r"
        mem[$kind]="${mem[$kind]:-} $(( (peak - base) / clients ))"
        echo "round $round $kind: $(cat "$dir/out"), daemon RSS idle ${base} KiB, peak ${peak} KiB"
        kill "$pid"; wait "$pid" 2>/dev/null || true
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
c_rate=$(echo "${rate[cppnix]}" | median); c_mem=$(echo "${mem[cppnix]}" | median)
echo
echo "clients=$clients ops-per-client=$ops (add + query each)"
for kind in nixkit-process nixkit-thread; do
    n_rate=$(echo "${rate[$kind]}" | median); n_mem=$(echo "${mem[$kind]}" | median)
    printf '%-15s throughput ops/s %s (cppnix %s, ratio %.2f)   memory KiB/conn %s (cppnix %s)\n' \
        "$kind" "$n_rate" "$c_rate" "$(echo "$n_rate / $c_rate" | bc -l)" "$n_mem" "$c_mem"
done
