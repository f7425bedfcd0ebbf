# A wrong element type in a list.
[
  ({ lib, ... }: { options.ports = lib.mkOption { type = lib.types.listOf lib.types.int; }; })
  { _file = "ports.nix"; ports = [ 1 "two" ]; }
]
