#!/usr/bin/env bash
# Fills a hashed mirror (CppNix's `hashed-mirrors` layout: MIRROR_DIR/sha256/<hex>) with the
# upstream release tarballs the package set pins in sources.nix, taken from Debian's source
# archive: Debian's `.orig.tar.*` of each listed source package is the upstream tarball
# unchanged, which this script checks against the pinned sha256 before storing it.
#
#   sudo examples/pkgs/fetch-sources.sh /var/cache/nixkit-mirror
#   nixkit build examples/pkgs -A stdenvPkgs.hello --option hashed-mirrors file:///var/cache/nixkit-mirror
#
# Needs root on Debian (bookworm): adds `deb-src` entries for the suites already configured
# (when there are none) and runs `apt-get update`, then `apt-get source --download-only`.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 MIRROR_DIR" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$1/sha256"
mirror="$(cd "$1" && pwd)"

# Entries already in the mirror need nothing.
missing=()
while read -r deb sha; do
  [ -f "$mirror/sha256/$sha" ] || missing+=("$deb:$sha")
done < <(sed -n 's/.*deb = "\([^"]*\)".*sha256 = "\([0-9a-f]\{64\}\)".*/\1 \2/p' "$here/sources.nix")
if [ ${#missing[@]} -eq 0 ]; then
  echo "fetch-sources: mirror $mirror is complete"
  exit 0
fi

# deb-src for the configured suites, when apt has none.
have_src() {
  grep -rqsE '^[[:space:]]*(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/
}
if ! have_src; then
  src=/etc/apt/sources.list.d/nixkit-deb-src.sources
  : >"$src.tmp"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # Every deb822 stanza of type deb, as deb-src.
    awk 'BEGIN { RS=""; ORS="\n\n" } /(^|\n)Types:[^\n]*deb([ \n]|$)/ {
           sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f" >>"$src.tmp"
  done
  if [ -f /etc/apt/sources.list ]; then
    sed -n 's/^[[:space:]]*deb\([[:space:]]\)/deb-src\1/p' /etc/apt/sources.list >/etc/apt/sources.list.d/nixkit-deb-src.list
  fi
  mv "$src.tmp" "$src"
  echo "fetch-sources: added deb-src entries ($src)"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
for entry in "${missing[@]}"; do
  deb="${entry%%:*}"
  sha="${entry#*:}"
  (cd "$work" && apt-get source --download-only -qq "$deb" >/dev/null)
  found=""
  for f in "$work/${deb}"_*.orig.tar.*; do
    case "$f" in *.asc) continue ;; esac
    [ -f "$f" ] || continue
    if [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$sha" ]; then
      found="$f"
    fi
  done
  if [ -z "$found" ]; then
    echo "fetch-sources: no .orig tarball of Debian source package '$deb' has the pinned sha256 $sha" >&2
    exit 1
  fi
  install -m 0644 "$found" "$mirror/sha256/$sha.tmp"
  mv "$mirror/sha256/$sha.tmp" "$mirror/sha256/$sha"
  echo "fetch-sources: $deb -> sha256/$sha"
done
# Builds read the mirror as an unprivileged build user.
chmod 755 "$mirror" "$mirror/sha256"
