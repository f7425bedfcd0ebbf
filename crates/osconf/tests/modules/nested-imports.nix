# Modules imported through several levels, as files and inline.
[
  ./parts/top.nix
  { imports = [ { imports = [ ({ lib, ... }: { options.deep = lib.mkOption { type = lib.types.int; }; }) ]; deep = 3; } ]; }
]
