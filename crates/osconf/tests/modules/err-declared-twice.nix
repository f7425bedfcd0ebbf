# One option declared twice with defaults.
[
  ({ lib, ... }: { _file = "first.nix"; options.a = lib.mkOption { type = lib.types.int; default = 1; }; })
  ({ lib, ... }: { _file = "second.nix"; options.a = lib.mkOption { type = lib.types.int; default = 2; }; })
]
