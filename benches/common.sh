# Shared set-up of the whole-process benchmark scripts (sourced, not run).
# Expects `repo` and `cppnix` to be set; checks for GNU time, builds the
# release binary when NIXKIT_BIN is not given, clears `cppnix` (with a note)
# when CppNix is missing, and makes a scratch directory `$tmp` removed on exit.
if [ ! -x /usr/bin/time ]; then echo "/usr/bin/time (GNU time) is required" >&2; exit 1; fi
if [ -z "${NIXKIT_BIN:-}" ]; then
  (cd "$repo" && cargo build --release -q -p nixkit) || { echo "cargo build failed" >&2; exit 1; }
fi
if [ -z "$cppnix" ] || [ ! -x "$cppnix" ]; then
  echo "NOTE: CppNix (nix-instantiate) not found: only nixkit is measured, no ratios." >&2
  cppnix=""
fi

tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
