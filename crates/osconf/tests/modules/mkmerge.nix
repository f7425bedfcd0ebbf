# mkMerge at the top of a module's config and inside an option.
[
  ({ lib, ... }: {
    options.xs = lib.mkOption { type = lib.types.listOf lib.types.int; };
    options.s = lib.mkOption { type = lib.types.str; default = ""; };
  })
  ({ lib, ... }: { config = lib.mkMerge [ { xs = [ 1 ]; } { xs = [ 2 ]; s = "x"; } (lib.mkIf false { s = "y"; }) ]; })
  ({ lib, ... }: { xs = lib.mkMerge [ [ 3 ] (lib.mkIf true [ 4 ]) (lib.mkIf false [ 5 ]) ]; })
]
