# mkIf around list elements drops the false ones.
[
  ({ lib, ... }: { options.xs = lib.mkOption { type = lib.types.listOf lib.types.int; }; })
  ({ lib, ... }: { xs = [ 1 (lib.mkIf false 2) (lib.mkIf true 3) ]; })
]
