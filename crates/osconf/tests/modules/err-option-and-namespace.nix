# One name declared as an option and as a set of options.
[
  ({ lib, ... }: { _file = "opt.nix"; options.a = lib.mkOption { type = lib.types.int; default = 0; }; })
  ({ lib, ... }: { _file = "ns.nix"; options.a.b = lib.mkOption { type = lib.types.int; default = 0; }; })
]
