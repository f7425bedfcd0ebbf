# Real software built by the stdenv from upstream release tarballs (pinned in
# ../sources.nix, fetched through the hashed mirror).
{ stdenv }:
let
  sources = import ../sources.nix;
  fetch = s: derivation {
    inherit (s) name url;
    system = "builtin";
    builder = "builtin:fetchurl";
    outputHashMode = "flat";
    outputHashAlgo = "sha256";
    outputHash = s.sha256;
  };
  src = name: fetch sources.${name};
in
rec {
  # GNU hello, with its test suite.
  hello = stdenv.mkDerivation {
    pname = "hello";
    version = "2.10";
    src = src "hello";
    doCheck = true;
  };

  # A plain Makefile, no configure script.
  tree = stdenv.mkDerivation {
    pname = "tree";
    version = "2.1.0";
    src = src "tree";
    # The compiled-in default of the global .info file.
    postPatch = ''
      sed -i "s|/usr/share/finfo|$out/share/finfo|" tree.h
    '';
    buildPhase = ''make -j"$NIX_BUILD_CORES"'';
    installPhase = ''make install PREFIX="$out" MANDIR="$out/share/man"'';
  };

  # A compression library (libbz2.so) and its program, linked against the shared library.
  bzip2 = stdenv.mkDerivation {
    pname = "bzip2";
    version = "1.0.8";
    src = src "bzip2";
    # The scripts find their tools in the store, not /usr/bin.
    postPatch = ''
      sed -i -e "s|PATH=\"/usr/bin:\(/bin:\)\{0,1\}|PATH=\"$out/bin:$bootstrapTools/bin:|" \
        -e "s|/bin/rm|rm|" -e "/Replace above line with/d" bzgrep bzmore bzdiff
      chmod +x bzmore
    '';
    buildPhase = ''
      make -f Makefile-libbz2_so
      make -j"$NIX_BUILD_CORES" bzip2recover
    '';
    doCheck = true;
    checkPhase = ''
      # The upstream test: compress and decompress the sample files with the shared build.
      for i in 1 2 3; do
        ./bzip2-shared -$i < sample$i.ref | cmp - sample$i.bz2
        ./bzip2-shared -d < sample$i.bz2 | cmp - sample$i.ref
      done
    '';
    installPhase = ''
      mkdir -p "$out/bin" "$out/lib" "$out/include" "$out/share/man/man1"
      cp bzip2-shared "$out/bin/bzip2"
      cp bzip2recover bzgrep bzmore bzdiff "$out/bin/"
      ln -s bzip2 "$out/bin/bunzip2"
      ln -s bzip2 "$out/bin/bzcat"
      cp libbz2.so.1.0.8 "$out/lib/"
      ln -s libbz2.so.1.0.8 "$out/lib/libbz2.so.1.0"
      ln -s libbz2.so.1.0 "$out/lib/libbz2.so"
      cp bzlib.h "$out/include/"
      cp bzip2.1 "$out/share/man/man1/"
    '';
  };

  # A database library and its tools (libtool, shared).
  gdbm = stdenv.mkDerivation {
    pname = "gdbm";
    version = "1.23";
    src = src "gdbm";
    # gdbmtool's `shell` command runs the store's shell.
    postPatch = ''
      sed -i "s|\"/bin/sh\"|\"$bootstrapTools/bin/sh\"|" tools/gdbmshell.c
    '';
    configureFlags = "--without-readline --disable-nls --disable-static";
  };

  # A compression library ...
  lzo = stdenv.mkDerivation {
    pname = "lzo";
    version = "2.10";
    src = src "lzo";
    configureFlags = "--enable-shared --disable-static";
  };

  # ... and a program built against it (a build dependency on another package).
  lzop = stdenv.mkDerivation {
    pname = "lzop";
    version = "1.04";
    src = src "lzop";
    buildInputs = [ lzo ];
  };

  all = [ hello tree bzip2 gdbm lzo lzop ];
}
