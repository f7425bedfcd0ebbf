# Two different values for an option that needs them equal.
[
  ({ lib, ... }: { options.networking.hostName = lib.mkOption { type = lib.types.str; }; })
  { _file = "a.nix"; networking.hostName = "alpha"; }
  { _file = "b.nix"; networking.hostName = "beta"; }
]
