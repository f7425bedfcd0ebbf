# Lists from several modules concatenate in module order.
[
  ({ lib, ... }: { options.xs = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; }; })
  { xs = [ "a" "b" ]; }
  { xs = [ "c" ]; }
  { xs = [ ]; }
  { xs = [ "d" ]; }
]
