#!/usr/bin/env bash
# Builds the nixkit binary with profile-guided optimisation (PGO):
# target/pgo/release/nixkit.
#
# 1. builds an instrumented binary (target/pgo-train/release/nixkit, removed once
#    its profile is merged);
# 2. runs it over a training set: CppNix's language tests (every
#    eval-okay and eval-fail file) and nixpkgs lib's own tests (misc.nix,
#    systems.nix, modules.sh). None of the benchmark workloads
#    (../shared/bench, benches/workloads, benches/scaling) is in it, so the
#    benchmarks measure the profile's effect on code it was not trained on;
# 3. merges the profile (llvm-profdata of the Rust toolchain: `rustup
#    component add llvm-tools`) and builds the optimised binary with it.
#
# Usage: benches/pgo-build.sh
#   NIXKIT_CORPUS   the corpus holding nix-lang/ and nixpkgs-lib/ (default:
#                   ../shared/corpus next to the workspace)
# The workspace's own flags (.cargo/config.toml) still apply: the profile
# flags are added with `--config`, which cargo joins to them. Exits non-zero
# without the corpus or llvm-profdata (a profile of nothing would be
# useless).
set -euo pipefail

workspace="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$workspace"
corpus="${NIXKIT_CORPUS:-$workspace/../shared/corpus}"
lang="$corpus/nix-lang/lang"
lib="$corpus/nixpkgs-lib"
if [[ ! -d "$lang" || ! -f "$lib/lib/tests/modules.sh" ]]; then
    echo "error: training corpus not found under $corpus (set NIXKIT_CORPUS)" >&2
    exit 1
fi

sysroot="$(rustc --print sysroot)"
host="$(rustc -vV | sed -n 's/^host: //p')"
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
if [[ ! -x "$profdata" ]]; then
    echo "error: $profdata missing; install it with: rustup component add llvm-tools" >&2
    exit 1
fi

data="$workspace/target/pgo-data"
rm -rf "$data"
mkdir -p "$data"

# Joined to the `target.'cfg(...)'.rustflags` of .cargo/config.toml.
flags() { printf "target.'cfg(all())'.rustflags=[\"%s\"]" "$1"; }

echo "== instrumented build"
cargo build --release --locked -p nixkit --target-dir "$workspace/target/pgo-train" \
    --config "$(flags "-Cprofile-generate=$data")"
trainee="$workspace/target/pgo-train/release/nixkit"

echo "== training"
# Failing evaluations are part of the training (error paths); only a crash
# of the binary would matter, and the test suite covers those.
(
    cd "$lang"
    for f in eval-okay-*.nix eval-fail-*.nix; do
        timeout 20 "$trainee" instantiate --eval --strict "$f" >/dev/null 2>&1 || true
    done
)
for t in misc systems; do
    timeout 120 "$trainee" instantiate --eval --strict "$lib/lib/tests/$t.nix" >/dev/null 2>&1 || true
done
NIXKIT_NIXPKGS_LIB="$lib" bash "$workspace/crates/eval/tests/run-modules-sh.sh" "$trainee" | tail -n 1

echo "== merging the profile"
"$profdata" merge -o "$data/merged.profdata" "$data"/*.profraw
# The instrumented build has done its work; its 1.3 GB would only crowd the disk the
# optimised build needs. The raw profiles are merged, so they go too.
rm -rf "$workspace/target/pgo-train" "$data"/*.profraw

echo "== optimised build"
cargo build --release --locked -p nixkit --target-dir "$workspace/target/pgo" \
    --config "$(flags "-Cprofile-use=$data/merged.profdata")"
echo "built $workspace/target/pgo/release/nixkit"
