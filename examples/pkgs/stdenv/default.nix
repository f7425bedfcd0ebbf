# The stdenv: bootstrap tools from the host (see make-bootstrap-tools.sh) made relocatable
# in the store, and `mkDerivation` running setup.sh's phases with them.
{ busybox, bootstrapToolsDir, system }:
let
  bootstrapTools = derivation {
    name = "bootstrap-tools";
    inherit system;
    builder = "${busybox}/busybox";
    args = [ "sh" "-e" ./unpack-bootstrap-tools.sh ];
    busybox = "${busybox}/busybox";
    src = builtins.path { path = bootstrapToolsDir; name = "bootstrap-tools-staging"; };
    ccWrapper = ./cc-wrapper.sh;
    triple = "x86_64-linux-gnu";
    gcc = "gcc-12";
  };

  mkDerivation =
    { name ? "${attrs.pname}-${attrs.version}"
    , buildInputs ? [ ]
    , nativeBuildInputs ? [ ]
    , outputs ? [ "out" ]
    , doCheck ? false
    , ...
    }@attrs:
    derivation (builtins.removeAttrs attrs [ "pname" "version" "meta" ] // {
      inherit name system outputs buildInputs nativeBuildInputs bootstrapTools doCheck;
      builder = "${bootstrapTools}/bin/bash";
      args = [ "-e" "-c" ''source "$setup" && genericBuild'' ];
      setup = ./setup.sh;
      NIX_STORE = builtins.storeDir;
    });
in
{
  inherit bootstrapTools mkDerivation;
}
