# Modules without options/config: every attribute except imports and _file is config.
[
  ({ lib, ... }: { options.a.b = lib.mkOption { type = lib.types.int; }; options.c = lib.mkOption { type = lib.types.str; }; })
  { _file = "shorthand.nix"; a.b = 1; c = "x"; imports = [ ]; }
]
