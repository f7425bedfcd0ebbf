# nullOr defined both null and not null.
[
  ({ lib, ... }: { options.a = lib.mkOption { type = lib.types.nullOr lib.types.int; }; })
  { _file = "n1.nix"; a = null; }
  { _file = "n2.nix"; a = 1; }
]
