# The option default (priority 1500) loses to mkDefault (1000); list defaults do not merge.
[
  ({ lib, ... }: {
    options.xs = lib.mkOption { type = lib.types.listOf lib.types.int; default = [ 0 ]; };
    options.ys = lib.mkOption { type = lib.types.listOf lib.types.int; default = [ 0 ]; };
    options.zs = lib.mkOption { type = lib.types.listOf lib.types.int; default = [ 0 ]; };
  })
  ({ lib, ... }: { xs = lib.mkDefault [ 1 ]; ys = [ 2 ]; })
]
