#!/bin/sh
# pkgman against CppNix's nix-env (Debian's nix-bin 2.8), side by side in one run, on the
# same package set (a copy of examples/pkgs, and a second copy where hello is 2.0) and the
# same store (nixkit's; nix-env opens it with --store DIR): query available, install
# (already built), upgrade (already built), rollback. Each operation runs N times on fresh
# profiles; prints the median wall time in ms and pkgman's share of nix-env's.
# Usage: benches/pkgman-vs-nix-env.sh [N]   (needs busybox-static, user namespaces, nix-env)
set -eu
N=${1:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v nix-env > /dev/null; then
  echo "skipped: nix-env is not installed"; exit 0
fi
# PKGMAN=path/to/pkgman measures that binary instead of building the release one.
if [ -z "${PKGMAN:-}" ]; then
  cargo build -q --release -p pkgman --manifest-path "$ROOT/Cargo.toml"
  PKGMAN=${CARGO_TARGET_DIR:-$ROOT/target}/release/pkgman
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK" # the build users read the package set through it
cp -r "$ROOT/examples/pkgs" "$WORK/v1"
cp -r "$ROOT/examples/pkgs" "$WORK/v2"
sed -i 's/name = "hello-1.0";/name = "hello-2.0";/' "$WORK/v2/default.nix"
STORE="$WORK/store"
cd "$WORK"

pk() { "$PKGMAN" --store "$STORE" -Q "$@"; }
nx() { nix-env --store "$STORE" "$@"; }

# Everything both versions need is built once, before timing.
pk --profile "$WORK/warm" install -f v1 hello greeter > /dev/null 2>&1
pk --profile "$WORK/warm" install -f v2 hello > /dev/null 2>&1

ns() { date +%s%N; }
# timed NAME CMD...: runs CMD (quietly) and appends its wall time in us to NAME.t.
timed() {
  name=$1; shift
  t0=$(ns)
  if ! "$@" > "$WORK/last.out" 2>&1; then
    echo "$name failed:"; tail -5 "$WORK/last.out"; exit 1
  fi
  echo $(( ($(ns) - t0) / 1000 )) >> "$WORK/$name.t"
}
median() { sort -n "$WORK/$1.t" | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }'; }

i=0
while [ "$i" -lt "$N" ]; do
  timed pk-query pk list -a -f v1
  timed nx-query nx -f v1 -qaP
  timed pk-install pk --profile "$WORK/pk-$i" install -f v1 hello
  timed nx-install nx --profile "$WORK/nx-$i" -f v1 -i hello
  timed pk-upgrade pk --profile "$WORK/pk-$i" upgrade -f v2
  timed nx-upgrade nx --profile "$WORK/nx-$i" -f v2 -u
  timed pk-rollback pk --profile "$WORK/pk-$i" rollback
  timed nx-rollback nx --profile "$WORK/nx-$i" --rollback
  i=$((i + 1))
done
# Both ended where they should: hello 1.0 after the rollback.
[ "$(pk --profile "$WORK/pk-0" list)" = "hello-1.0" ] || { echo "pkgman's profile is wrong"; exit 1; }

printf '%-16s %10s %10s %8s\n' "median of $N" "pkgman ms" "nix-env ms" "ratio"
for op in query install upgrade rollback; do
  a=$(median "pk-$op"); b=$(median "nx-$op")
  printf '%-16s %10s %10s %8s\n' "$op" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')"
done
