# The bootstrap tools' builder (run by static busybox `sh -e`): copies the host's staging
# directory ($src, made by make-bootstrap-tools.sh) to $out and makes it relocatable, as
# nixpkgs unpacks its bootstrap tarball: every ELF program's interpreter becomes $out's
# ld.so and every ELF file's RPATH $out's library directories (patchelf itself runs from
# $src through its ld.so), scripts' `#!` lines point into $out, and $out/bin holds the
# programs with `gcc`/`cc` replaced by a wrapper that compiles against $out alone.
bb="$busybox"
$bb cp -RP "$src" "$out"
$bb chmod -R u+w "$out"
libdir="$out/usr/lib/$triple"
ld="$out/lib64/ld-linux-x86-64.so.2"
patchelf() {
  "$src/usr/lib/$triple/ld-linux-x86-64.so.2" --library-path "$src/usr/lib/$triple" \
    "$src/usr/bin/patchelf" "$@"
}
for dir in "$out/usr/bin" "$out/usr/sbin" "$out/usr/lib" "$out/usr/libexec"; do
  [ -d "$dir" ] || continue
  $bb find "$dir" -type f ! -name '*.h' ! -name '*.a' ! -name '*.o' ! -name '*.py' \
    ! -name '*.gox' | while read -r f; do
    magic="$($bb head -c 4 "$f" | $bb od -An -c | $bb tr -d ' \n')"
    case "$magic" in
      '177ELF')
        case "${f##*/}" in ld-linux-*|libc.so.*) continue ;; esac
        if patchelf --print-interpreter "$f" >/dev/null 2>&1; then
          patchelf --set-interpreter "$ld" "$f"
        fi
        if [ -n "$(patchelf --print-needed "$f" 2>/dev/null)" ]; then
          patchelf --set-rpath "$libdir:$out/usr/lib" "$f"
        fi
        ;;
      '#!'*)
        $bb sed -i -e "1s|^#! *\(/usr\)\?/bin/|#!$out/usr/bin/|" "$f"
        ;;
    esac
  done
done

# The programs, with the C compiler wrapped.
$bb rm "$out/bin"
$bb mkdir "$out/bin"
for f in "$out"/usr/bin/*; do
  $bb ln -s "$f" "$out/bin/${f##*/}"
done
$bb rm "$out/bin/gcc" "$out/bin/cc" "$out/bin/cpp"
$bb sed -e "s|@out@|$out|g" -e "s|@triple@|$triple|g" -e "s|@gcc@|$gcc|g" "$ccWrapper" \
  > "$out/bin/gcc"
$bb chmod 755 "$out/bin/gcc"
$bb ln -s gcc "$out/bin/cc"
$bb printf '#!%s\nexec %s -E "$@"\n' "$out/usr/bin/bash" "$out/bin/gcc" > "$out/bin/cpp"
$bb chmod 755 "$out/bin/cpp"
