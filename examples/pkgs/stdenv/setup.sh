# The stdenv's builder (bash, from the bootstrap tools): sets up the environment from the
# derivation's attributes and runs the phases unpack, patch, configure, build, check,
# install and fixup. A phase can be replaced by an attribute of the same name holding
# shell code (`buildPhase = "make -f Makefile-libbz2_so";`), and `preConfigure`,
# `postInstall`, ... run around them.
set -eo pipefail

# Dependencies: their bin/ on PATH, include/ and lib/ for the compiler wrapper (lib/ also
# on the RPATH of what links against it).
PATH=""
NIX_CFLAGS_COMPILE="${NIX_CFLAGS_COMPILE:-}"
NIX_LDFLAGS="${NIX_LDFLAGS:-}"
for dep in $nativeBuildInputs $buildInputs; do
  [ -d "$dep/bin" ] && PATH="$PATH${PATH:+:}$dep/bin"
  [ -d "$dep/include" ] && NIX_CFLAGS_COMPILE="$NIX_CFLAGS_COMPILE -isystem $dep/include"
  [ -d "$dep/lib" ] && NIX_LDFLAGS="$NIX_LDFLAGS -L$dep/lib -Wl,-rpath,$dep/lib"
done
PATH="$PATH${PATH:+:}$bootstrapTools/bin"
# The output's own libraries (fixup drops the entry where nothing uses it).
NIX_LDFLAGS="$NIX_LDFLAGS -Wl,-rpath,$out/lib"
export PATH NIX_CFLAGS_COMPILE NIX_LDFLAGS
export CONFIG_SHELL="$bootstrapTools/bin/bash"
export SHELL="$CONFIG_SHELL"
export CC=gcc
export NIX_BUILD_CORES="${NIX_BUILD_CORES:-1}"
[ "$NIX_BUILD_CORES" -gt 0 ] 2>/dev/null || NIX_BUILD_CORES=1

# Make runs recipes with our shell (there is no /bin/sh in the sandbox).
make() {
  command make SHELL="$SHELL" "$@"
}

runHook() {
  local code="${!1:-}"
  if [ -n "$code" ]; then eval "$code"; fi
}

# Runs phase $1: the attribute of that name if set, else the function.
runPhase() {
  local phase="$1" base="${1%Phase}"
  echo "phase: $phase"
  runHook "pre${base^}"
  if [ -n "${!phase:-}" ]; then
    eval "${!phase}"
  else
    "default${phase^}"
  fi
  runHook "post${base^}"
}

defaultUnpackPhase() {
  local before after
  before="$(ls -A)"
  tar --no-same-owner -xf "$src"
  after="$(ls -A)"
  sourceRoot="$(comm -13 <(echo "$before") <(echo "$after") | head -n1)"
  if [ -z "$sourceRoot" ] || [ ! -d "$sourceRoot" ]; then
    echo "unpack: $src did not unpack to one directory" >&2
    return 1
  fi
  cd "$sourceRoot"
  chmod -R u+w .
}

defaultPatchPhase() {
  local p
  for p in ${patches:-}; do
    echo "applying $p"
    patch -p1 <"$p"
  done
}

defaultConfigurePhase() {
  if [ -x ./configure ] && [ "${dontConfigure:-}" != 1 ]; then
    # shellcheck disable=SC2086
    "$CONFIG_SHELL" ./configure --prefix="$out" ${configureFlags:-}
  fi
}

defaultBuildPhase() {
  # shellcheck disable=SC2086
  make -j"$NIX_BUILD_CORES" ${makeFlags:-} ${buildFlags:-}
}

defaultCheckPhase() {
  if [ "${doCheck:-}" = 1 ]; then
    # shellcheck disable=SC2086
    make ${makeFlags:-} ${checkTarget:-check}
  fi
}

defaultInstallPhase() {
  mkdir -p "$out"
  # shellcheck disable=SC2086
  make ${makeFlags:-} ${installFlags:-} install
}

isElf() {
  [ "$(head -c 4 "$1" | od -An -c | tr -d ' \n')" = '177ELF' ]
}

# The interpreter of `#!` line "$1" (path and argument) as a store path: `/bin/sh` and
# `/usr/bin/env perl` become the program of that name on PATH.
patchedShebang() {
  local interp arg
  read -r interp arg <<<"$1"
  case "$interp" in
    "$NIX_STORE"/*) echo "$1"; return ;;
  esac
  if [ "${interp##*/}" = env ] && [ -n "$arg" ]; then
    interp="$arg"
    arg=""
  fi
  local found
  found="$(command -v "${interp##*/}")" || { echo "$1"; return; }
  echo "$found${arg:+ $arg}"
}

defaultFixupPhase() {
  local dir f first new rpath entry keep
  for dir in $outputs; do
    dir="${!dir}"
    [ -d "$dir" ] || continue
    find "$dir" -type f | while read -r f; do
      if isElf "$f"; then
        # Strip debugging information; keep only store entries on the RPATH.
        strip -S "$f" 2>/dev/null || true
        rpath="$(patchelf --print-rpath "$f" 2>/dev/null)" || continue
        [ -n "$rpath" ] || continue
        patchelf --shrink-rpath "$f"
        rpath="$(patchelf --print-rpath "$f")"
        keep=""
        IFS=: read -ra entries <<<"$rpath"
        for entry in "${entries[@]}"; do
          case "$entry" in
            "$NIX_STORE"/*) keep="$keep${keep:+:}$entry" ;;
          esac
        done
        if [ "$keep" != "$rpath" ]; then
          patchelf --set-rpath "$keep" "$f"
        fi
      elif [ -x "$f" ] && [ "$(head -c 2 "$f")" = '#!' ]; then
        first="$(head -n1 "$f")"
        new="$(patchedShebang "${first#\#!}")"
        if [ "#!$new" != "$first" ]; then
          echo "patching shebang of $f: $new"
          sed -i "1s|.*|#!$new|" "$f"
        fi
      fi
    done
  done
}

genericBuild() {
  local phase
  cd "$NIX_BUILD_TOP"
  for phase in unpackPhase patchPhase configurePhase buildPhase checkPhase installPhase \
    fixupPhase; do
    runPhase "$phase"
  done
}
