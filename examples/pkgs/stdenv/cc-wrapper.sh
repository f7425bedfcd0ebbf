#!@out@/usr/bin/bash
# The bootstrap tools' C compiler: the host's gcc, relocated. Headers, crt files and
# libraries come from the bootstrap tools' store path (--sysroot), programs get its ld.so
# as interpreter and its libraries on their RPATH, and the stdenv's NIX_CFLAGS_COMPILE
# and NIX_LDFLAGS (dependencies' include and library directories) are added.
link=1
for arg in "$@"; do
  case "$arg" in
    -c | -S | -E | -M | -MM) link=0 ;;
  esac
done
extra=()
if [ "$link" = 1 ]; then
  # shellcheck disable=SC2206
  extra=(-Wl,--dynamic-linker=@out@/lib64/ld-linux-x86-64.so.2
    -Wl,-rpath,@out@/usr/lib/@triple@ $NIX_LDFLAGS)
fi
# shellcheck disable=SC2086
exec @out@/usr/bin/@gcc@ --sysroot=@out@ $NIX_CFLAGS_COMPILE "$@" "${extra[@]}"
