#!/usr/bin/env bash
# osconf's module system against nixpkgs lib's evalModules, side by side: the generated
# configuration benches/osconf/generated.nix (N users, N /etc files, N/10 services and the
# HTTP service) evaluated with osconf's option modules to the JSON of its config
# (benches/osconf/eval.nix), by
#   nixkit instantiate --eval --strict --json   with osconf's lib      ("osconf/nixkit")
#   nix-instantiate --eval --strict --json      with nixpkgs-lib-2022  ("nixpkgs/cppnix")
#   nix-instantiate ...                         with osconf's lib      ("osconf/cppnix", for reference)
# RUNS times each (median wall time, peak RSS); the three outputs must be the same JSON
# (compared with jq -S). The goal of issue #15: osconf/nixkit at or under half of
# nixpkgs/cppnix. Then the time of a no-change `osconf rebuild switch` of the same
# configurations on a scratch root.
#
# Usage: benches/osconf-vs-nixpkgs.sh [RUNS]
# Environment: NIXKIT_BENCH_RUNS (default 3), NIXKIT_BIN, CPPNIX_BIN, NIXKIT_CORPUS
# (default ../shared/corpus: nixpkgs-lib-2022 is taken from it), OSCONF_BENCH_SIZES
# (default "100 1000"), OSCONF_BIN (the no-change `rebuild switch` timing at the end).
set -u
export LC_ALL=C
repo="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-${NIXKIT_BENCH_RUNS:-3}}"
corpus="${NIXKIT_CORPUS:-$repo/../shared/corpus}"
nixpkgs_lib="$corpus/nixpkgs-lib-2022/lib"
if [ ! -d "$nixpkgs_lib" ]; then
  echo "SKIP osconf-vs-nixpkgs: $nixpkgs_lib not found (set NIXKIT_CORPUS)"
  exit 0
fi
nixpkgs_lib="$(cd "$nixpkgs_lib" && pwd)"
# shellcheck source=benches/common.sh
. "$repo/benches/common.sh"
expr="$repo/benches/osconf/eval.nix"

# run_one NAME N -> appends "wall maxrss_kib" to $tmp/NAME.times and keeps the output
run_one() {
  local name="$1" n="$2" cmd
  case "$name" in
    osconf-nixkit) cmd=("$nixkit" instantiate --eval --strict --json "$expr" --arg n "$n") ;;
    nixpkgs-cppnix) cmd=("$cppnix" --eval --strict --json "$expr" --arg n "$n" --arg lib "$nixpkgs_lib") ;;
    osconf-cppnix) cmd=("$cppnix" --eval --strict --json "$expr" --arg n "$n") ;;
  esac
  if ! /usr/bin/time -f '%e %M' -o "$tmp/time" "${cmd[@]}" >"$tmp/$name.json" 2>"$tmp/$name.err"; then
    echo "FAILED: $name (n=$n): $(head -c 600 "$tmp/$name.err")" >&2
    exit 1
  fi
  tail -n 1 "$tmp/time" >>"$tmp/$name.times"
}
median() {
  sort -n -k1,1 "$1" | awk '{t[NR]=$1} END { n=NR; printf "%.2f", (n%2) ? t[(n+1)/2] : (t[n/2]+t[n/2+1])/2 }'
}
maxrss() { awk '$2>m {m=$2} END {printf "%.0f", m/1024}' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a" }'; }

names="osconf-nixkit"; [ -n "$cppnix" ] && names="osconf-nixkit nixpkgs-cppnix osconf-cppnix"
printf '%-6s %-16s %8s %8s %8s\n' N evaluation "wall s" "MiB" "ratio"
for n in ${OSCONF_BENCH_SIZES:-100 1000}; do
  rm -f "$tmp"/*.times
  for _ in $(seq "$runs"); do
    for name in $names; do run_one "$name" "$n"; done
  done
  same="-"
  if [ -n "$cppnix" ] && command -v jq >/dev/null; then
    same=yes
    for name in nixpkgs-cppnix osconf-cppnix; do
      cmp -s <(jq -S . "$tmp/osconf-nixkit.json") <(jq -S . "$tmp/$name.json") || same=NO
    done
  fi
  base=""; [ -n "$cppnix" ] && base=$(median "$tmp/nixpkgs-cppnix.times")
  for name in $names; do
    w=$(median "$tmp/$name.times")
    r="-"; [ -n "$base" ] && r=$(ratio "$w" "$base")
    printf '%-6s %-16s %8s %8s %8s\n' "$n" "$name" "$w" "$(maxrss "$tmp/$name.times")" "$r"
  done
  echo "N=$n: outputs identical: $same"
done

# A no-change `osconf rebuild switch` of the same generated configurations on a scratch
# root (installed first, so the system is built and active): evaluation, the build
# finding everything valid, the profile unchanged, activation converging on what is
# there. Needs busybox-static (the example package set), a /nix/store directory to
# mount the root's store on, and root or user namespaces; OSCONF_BIN (default: the
# release build, built here).
osconf="${OSCONF_BIN:-$repo/target/release/osconf}"
if [ -z "${OSCONF_BIN:-}" ]; then
  (cd "$repo" && cargo build --release -q -p osconf) || { echo "cargo build failed" >&2; exit 1; }
fi
if [ ! -d /nix/store ]; then
  echo "SKIP no-change rebuild switch: no /nix/store directory"
  exit 0
fi
printf '\n%-6s %-28s %8s %8s\n' N "no-change rebuild switch" "wall s" "MiB"
for n in ${OSCONF_BENCH_SIZES:-100 1000}; do
  root="$tmp/root-$n"
  mkdir -p "$root/etc/osconf"
  printf '{ ... }: { imports = [ (import %s { n = %s; }) ]; }\n' "$repo/benches/osconf/generated.nix" "$n" \
    >"$root/etc/osconf/configuration.nix"
  if ! "$osconf" --root "$root" -Q install >"$tmp/install.out" 2>&1; then
    echo "FAILED: osconf install (n=$n): $(tail -c 600 "$tmp/install.out")" >&2
    exit 1
  fi
  rm -f "$tmp/switch.times"
  for _ in $(seq "$runs"); do
    if ! /usr/bin/time -f '%e %M' -o "$tmp/time" "$osconf" --root "$root" -Q rebuild switch >"$tmp/switch.out" 2>&1; then
      echo "FAILED: osconf rebuild switch (n=$n): $(tail -c 600 "$tmp/switch.out")" >&2
      exit 1
    fi
    tail -n 1 "$tmp/time" >>"$tmp/switch.times"
  done
  printf '%-6s %-28s %8s %8s\n' "$n" "osconf" "$(median "$tmp/switch.times")" "$(maxrss "$tmp/switch.times")"
done
