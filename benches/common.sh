# Shared set-up of the whole-process benchmark scripts (sourced, not run).
# Expects `repo` to be set. Sets `nixkit` (NIXKIT_BIN, or the release binary,
# built here), `cppnix` (CPPNIX_BIN, or nix-instantiate from PATH; cleared with
# a note when missing) and `only` (NIXKIT_BENCH_ONLY); checks for GNU time and
# makes a scratch directory `$tmp` removed on exit.
nixkit="${NIXKIT_BIN:-$repo/target/release/nixkit}"
cppnix="${CPPNIX_BIN:-$(command -v nix-instantiate || true)}"
only="${NIXKIT_BENCH_ONLY:-}"
if [ ! -x /usr/bin/time ]; then echo "/usr/bin/time (GNU time) is required" >&2; exit 1; fi
if [ -z "${NIXKIT_BIN:-}" ]; then
  (cd "$repo" && cargo build --release -q -p nixkit) || { echo "cargo build failed" >&2; exit 1; }
fi
if [ -z "$cppnix" ] || [ ! -x "$cppnix" ]; then
  echo "NOTE: CppNix (nix-instantiate) not found: only nixkit is measured, no ratios." >&2
  cppnix=""
fi

tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
