# A module with config and a stray top-level attribute.
[
  ({ lib, ... }: { _file = "stray.nix"; options.a = lib.mkOption { type = lib.types.int; default = 0; }; b = 1; })
]
