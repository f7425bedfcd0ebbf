#!/usr/bin/env bash
# Regenerates expected.txt from cases.txt with CppNix (nix-instantiate on PATH):
# one line per case, CppNix's output, or its error's first line ("error: ...").
set -eu
cd "$(dirname "$0")"
: >expected.txt
grep -v '^#' cases.txt | while IFS= read -r expr; do
  if out="$(nix-instantiate --eval --strict -E "$expr" 2>/tmp/regen-err.$$)"; then
    printf '%s\n' "$out" >>expected.txt
  else
    head -n 1 /tmp/regen-err.$$ >>expected.txt
  fi
done
rm -f /tmp/regen-err.$$
