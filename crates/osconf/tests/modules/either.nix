# either: each side's values merge with that side's merge.
[
  ({ lib, ... }: {
    options.a = lib.mkOption { type = lib.types.either lib.types.int lib.types.str; };
    options.b = lib.mkOption { type = lib.types.either lib.types.int lib.types.lines; };
    options.c = lib.mkOption { type = lib.types.either lib.types.bool (lib.types.listOf lib.types.int); };
  })
  { a = 5; b = "x"; c = [ 1 ]; }
  { b = "y"; c = [ 2 3 ]; }
]
