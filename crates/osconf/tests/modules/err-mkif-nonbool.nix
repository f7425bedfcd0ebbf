# mkIf with a condition that is not a boolean.
[
  ({ lib, ... }: { options.a = lib.mkOption { type = lib.types.int; default = 0; }; })
  ({ lib, ... }: { _file = "cond.nix"; a = lib.mkIf "yes" 1; })
]
