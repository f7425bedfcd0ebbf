# A tiny package set bootstrapped from Debian's busybox-static alone (no host toolchain):
# `nixkit build examples/pkgs -A all`. Every builder is busybox; `tools` installs its
# applets as symlinks so later packages can use a normal PATH.
#
# Real software (`real.hello`, `real.all`, ...) is built by `stdenv.mkDerivation` from
# upstream tarballs with bootstrap tools taken from the host: see README.md.
{ busyboxDir ? (if builtins.pathExists /usr/bin/busybox then /usr/bin else /bin)
, system ? builtins.currentSystem
  # The staging directory made by stdenv/make-bootstrap-tools.sh (default: the
  # NIXKIT_BOOTSTRAP_TOOLS environment variable); only `stdenv` and `real` need it.
, bootstrapToolsDir ? builtins.getEnv "NIXKIT_BOOTSTRAP_TOOLS"
}:
let
  # The busybox binary, alone in a content-addressed store path.
  busybox = builtins.path {
    path = busyboxDir;
    name = "busybox";
    filter = path: type: baseNameOf path == "busybox";
  };
  sh = "${busybox}/busybox";

  mkDerivation = { name, script, ... }@attrs:
    derivation ({
      inherit system;
      builder = sh;
      args = [ "sh" "-e" "-c" script ];
      PATH = "${tools}/bin";
    } // builtins.removeAttrs attrs [ "script" ]);

  tools = derivation {
    name = "busybox-tools";
    inherit system;
    builder = sh;
    args = [ "sh" "-e" "-c" "${sh} mkdir -p $out/bin && ${sh} --install -s $out/bin" ];
  };

  self = rec {
    inherit busybox tools;

    # (Without bootstrap tools, only building something with it fails: listing the set's
    # attributes still works.)
    stdenv = import ./stdenv {
      inherit busybox system;
      bootstrapToolsDir =
        if bootstrapToolsDir == "" then
          throw "the stdenv needs bootstrap tools: run examples/pkgs/stdenv/make-bootstrap-tools.sh DIR and set NIXKIT_BOOTSTRAP_TOOLS=DIR (or pass --arg bootstrapToolsDir DIR)"
        else
          /. + bootstrapToolsDir;
    };

    # Real packages from upstream source (sources.nix), built with the stdenv.
    real = import ./stdenv/packages.nix { inherit stdenv; };

    # A shell-script program.
    hello = mkDerivation {
      name = "hello-1.0";
      script = ''
        mkdir -p $out/bin
        printf '#!%s\necho "Hello, world!"\n' "${tools}/bin/sh" > $out/bin/hello
        chmod +x $out/bin/hello
      '';
    };

    # A fixed-output fetch from a file:// URL, done by the built-in fetcher.
    greeter-src = derivation {
      name = "greeter-1.0.tar.gz";
      system = "builtin";
      builder = "builtin:fetchurl";
      url = "file://${toString ./files/greeter-1.0.tar.gz}";
      outputHashMode = "flat";
      outputHashAlgo = "sha256";
      outputHash = "sha256-HBgIoxkdorOeqE9hrZqZjOwExO+lUvU9/3Io+b/TuQQ=";
    };

    # Unpacks a tarball with busybox tar.
    greeter = mkDerivation {
      name = "greeter-1.0";
      src = greeter-src;
      script = ''
        tar xzf $src
        mkdir -p $out/bin $out/share
        cp greeter-1.0/greeting.txt $out/share/
        sed "s|#!/bin/sh|#!${tools}/bin/sh|" greeter-1.0/greet.sh > $out/bin/greet
        chmod +x $out/bin/greet
      '';
    };

    # Several outputs.
    multi = mkDerivation {
      name = "multi-1.0";
      outputs = [ "out" "doc" "dev" ];
      script = ''
        mkdir -p $out/lib $doc/share/doc $dev/include
        echo "library" > $out/lib/libmulti.txt
        echo "documentation for $out" > $doc/share/doc/README
        echo "#define MULTI \"$out\"" > $dev/include/multi.h
      '';
    };

    # Depends on two others and records them.
    combined = mkDerivation {
      name = "combined-1.0";
      inherit hello greeter;
      script = ''
        mkdir -p $out/bin
        echo "$hello" > $out/deps
        echo "$greeter" >> $out/deps
        ln -s $hello/bin/hello $out/bin/hello
        ln -s $greeter/bin/greet $out/bin/greet
        $hello/bin/hello > $out/hello-output
        $greeter/bin/greet > $out/greet-output
      '';
    };

    all = [ hello greeter multi combined ];

    # A store file holding `text` (a derivation, so the text may refer to other store
    # paths, which become references). Used by osconf's /etc files.
    writeText = name: text: mkDerivation {
      inherit name text;
      passAsFile = [ "text" ];
      script = ''cp "$textPath" "$out"'';
    };

    # A directory holding one file, `path` (relative, may contain slashes), with `text`.
    writeTextDir = path: text: mkDerivation {
      name = baseNameOf path;
      inherit path text;
      passAsFile = [ "text" ];
      script = ''
        mkdir -p "$out/$(dirname "$path")"
        cp "$textPath" "$out/$path"
      '';
    };
  };
in self
