# A wrong element type in a set of strings given by one definition.
[
  ({ lib, ... }: { options.env = lib.mkOption { type = lib.types.attrsOf lib.types.str; }; })
  { _file = "env.nix"; env = { GOOD = "1"; BAD = 2; }; }
]
