#!/usr/bin/env bash
# Regenerates cppnix-rejects.txt: the .nix files of the shared corpus that
# CppNix's `nix-instantiate --parse` rejects (the oracle for tests/corpus.rs).
# Usage: gen-cppnix-rejects.sh [CORPUS_DIR]   (default: ../shared/corpus)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
corpus=${1:-$here/../../../../../shared/corpus}
corpus=$(cd "$corpus" && pwd)
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
export NIX_STORE_DIR=/nix/store NIX_STATE_DIR=$store/state NIX_LOG_DIR=$store/log
find "$corpus" -name '*.nix' | sort | while read -r f; do
  if ! nix-instantiate --readonly-mode --parse "$f" >/dev/null 2>&1; then
    echo "${f#"$corpus"/}"
  fi
done > "$here/cppnix-rejects.txt"
# CppNix 2.8 predates these parse-time rejections; the corpus's own expected
# output (from CppNix 2.36) says they are rejected while parsing.
for f in nix-lang/lang/eval-fail-string-nul-1.nix nix-lang/lang/eval-fail-string-nul-2.nix; do
  grep -qxF "$f" "$here/cppnix-rejects.txt" || echo "$f" >> "$here/cppnix-rejects.txt"
done
sort -o "$here/cppnix-rejects.txt" "$here/cppnix-rejects.txt"
wc -l "$here/cppnix-rejects.txt"
