#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 60), for CI. cargo-fuzz needs a
# nightly compiler; on stable, RUSTC_BOOTSTRAP=1 lets it pass its -Z flags. The targets run
# without AddressSanitizer (`--sanitizer none`): every parser fuzzed here is safe Rust
# (`unsafe_code = "forbid"`), so what the fuzzer can find — panics, hangs, runaway memory —
# shows without it, and the build takes a fraction of the time. Exits 0 with a
# "skipped:" line when cargo-fuzz is not installed. A crash is left in
# fuzz/artifacts/<target>/; copy it to the crate's test_data/fuzz/<target>/ so that
# `cargo test` replays it (crates/store/tests/fuzz_smoke.rs, crates/derivation/tests/fuzz_smoke.rs).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "skipped: cargo-fuzz is not installed (cargo install cargo-fuzz)"
  exit 0
fi
export RUSTC_BOOTSTRAP=1
# The seed corpora are the inputs `cargo test` replays.
seed_dir() {
  case "$1" in
    drv) echo ../crates/derivation/test_data/fuzz/drv ../crates/derivation/tests/golden/drvs ;;
    nix_cache_info) echo ../crates/store/test_data/fuzz/nix-cache-info ;;
    parse|roundtrip) echo ../crates/syntax/test_data/fuzz ;;
    *) echo "../crates/store/test_data/fuzz/$1" ;;
  esac
}
status=0
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target"
  seeds=()
  for d in $(seed_dir "$target"); do
    [ -d "$d" ] && seeds+=("$d")
  done
  echo "fuzzing $target for ${seconds}s"
  # A fixed seed and a fixed number of runs (the time is only a cap): CI explores the same
  # inputs on every run, so a red CI means a change broke something, never a lucky draw.
  # Explore further by hand (cargo fuzz run TARGET); keep what it finds in test_data.
  if ! cargo fuzz run --sanitizer none "$target" "corpus/$target" "${seeds[@]}" -- \
      -seed=1 -runs="$((seconds * 10000))" -max_total_time="$((seconds * 2))" \
      -rss_limit_mb=2048 -timeout=10; then
    echo "fuzz target $target failed: see fuzz/artifacts/$target" >&2
    status=1
  fi
done
exit "$status"
