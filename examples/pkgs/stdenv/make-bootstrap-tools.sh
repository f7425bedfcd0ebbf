#!/usr/bin/env bash
# Assembles the bootstrap tools' staging directory from the host (Debian): the files of the
# toolchain's packages (gcc, binutils, make, glibc's libraries, headers and crt files,
# coreutils, sed, grep, gawk, tar, gzip, xz, bzip2, patch, diffutils, findutils, patchelf,
# bash) and the packages of their shared-library closure, in the host's own layout
# (usr/bin, usr/lib/x86_64-linux-gnu, lib64/ld-linux-x86-64.so.2, ...), without
# documentation. This is the impure step, as nixpkgs' bootstrap tarball is made once on a
# host: the package set imports the directory with `builtins.path` and its
# `bootstrapTools` derivation makes it relocatable (ELF interpreters and RPATHs pointing
# into its own store path, compiler wrappers); see default.nix.
#
#   examples/pkgs/stdenv/make-bootstrap-tools.sh /var/cache/nixkit-bootstrap-tools
#
# Missing packages are installed with apt-get when running as root.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 STAGING_DIR" >&2
  exit 2
fi
out="$1"
gccver="$(gcc -dumpversion | cut -d. -f1)"
triple="$(gcc -dumpmachine)"
packages=(
  "gcc-$gccver" "cpp-$gccver" "libgcc-$gccver-dev" binutils "binutils-$(echo "$triple" | tr _ -)"
  libc6 libc6-dev linux-libc-dev libcrypt-dev make coreutils sed grep gawk tar gzip xz-utils
  bzip2 patch diffutils findutils patchelf bash
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "make-bootstrap-tools: missing packages (install them): ${missing[*]}" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

rm -rf "$out"
mkdir -p "$out/usr/bin" "$out/usr/lib" "$out/usr/lib64" "$out/usr/sbin"
# The merged-/usr aliases, as on the host, so paths in linker scripts resolve.
ln -s usr/bin "$out/bin"
ln -s usr/lib "$out/lib"
ln -s usr/lib64 "$out/lib64"
ln -s usr/sbin "$out/sbin"

# Files to copy: the packages' own, without documentation, and without the LTO compiler
# (a large program only `-flto` needs).
list="$(mktemp)"
trap 'rm -f "$list" "$list.more"' EXIT
wanted() {
  grep -vE '^/usr/share/(doc|man|info|locale|lintian|bug|bash-completion|gdb)/|/lto1$|/lto-dump' |
    grep -E '^/(usr|lib|lib64|bin|sbin)/'
}
dpkg -L "${packages[@]}" | wanted | sort -u >"$list"

# The shared-library closure of every ELF file: the packages owning each library.
owner() {
  # dpkg knows a file under the path its package ships it at (/lib or /usr/lib).
  local real alt
  real="$(realpath "$1")"
  case "$real" in /usr/*) alt="${real#/usr}" ;; *) alt="/usr$real" ;; esac
  { dpkg -S "$1" || dpkg -S "$real" || dpkg -S "$alt"; } 2>/dev/null | head -n1 | sed 's/: .*//; s/, /\n/g' || true
}
for _round in 1 2 3; do
  grep -E '/(bin|sbin|libexec)/|\.so' "$list" | while read -r f; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    head -c4 "$f" 2>/dev/null | grep -q 'ELF' || continue
    ldd "$f" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p' || true
  done | sort -u | while read -r lib; do
    owner "$lib"
  done | sort -u >"$list.more"
  before="$(wc -l <"$list")"
  { cat "$list"; [ -s "$list.more" ] && xargs -r dpkg -L <"$list.more" | wanted; } | sort -u >"$list.new"
  mv "$list.new" "$list"
  [ "$(wc -l <"$list")" = "$before" ] && break
done

while read -r f; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  [ -d "$f" ] && [ ! -L "$f" ] && continue
  # Through the merged-/usr alias: /lib/x -> usr/lib/x.
  dest="$out/${f#/}"
  mkdir -p "$(dirname "$dest")"
  cp -a "$f" "$dest"
done <"$list"

# Absolute symlinks point at the host: make them relative, inside the tree.
find "$out" -type l | while read -r link; do
  target="$(readlink "$link")"
  case "$target" in
    /*) ln -srfn "$out$target" "$link" ;;
  esac
done

# Alternatives symlinks (/etc/alternatives) do not survive the copy: the names the
# builds use, pointing at the real programs.
ln -sfn gawk "$out/usr/bin/awk"
ln -sfn bash "$out/usr/bin/sh"
ln -sfn "gcc-$gccver" "$out/usr/bin/gcc"
ln -sfn "gcc-$gccver" "$out/usr/bin/cc"
ln -sfn "cpp-$gccver" "$out/usr/bin/cpp"
for name in "$out"/usr/bin/*; do
  if [ -L "$name" ] && [ ! -e "$name" ]; then
    rm "$name"
  fi
done
chmod -R u+w,a+rX "$out"
echo "make-bootstrap-tools: $(du -sh "$out" | cut -f1) in $out"
