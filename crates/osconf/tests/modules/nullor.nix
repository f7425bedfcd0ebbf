# nullOr: null default, a defined value, all-null definitions.
[
  ({ lib, ... }: {
    options.a = lib.mkOption { type = lib.types.nullOr lib.types.int; default = null; };
    options.b = lib.mkOption { type = lib.types.nullOr lib.types.str; default = null; };
    options.c = lib.mkOption { type = lib.types.nullOr lib.types.str; };
  })
  { b = "set"; c = null; }
  { c = null; }
]
