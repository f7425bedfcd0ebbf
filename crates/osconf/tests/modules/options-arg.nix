# Modules can read `options`: whether an option is defined, its priority and value.
[
  ({ lib, ... }: {
    options.a = lib.mkOption { type = lib.types.int; default = 1; };
    options.b = lib.mkOption { type = lib.types.nullOr lib.types.int; default = null; };
    options.report = lib.mkOption { type = lib.types.listOf lib.types.bool; };
  })
  ({ lib, ... }: { b = lib.mkDefault 5; })
  ({ options, ... }: {
    report = [ options.a.isDefined options.b.isDefined (options.a.value == 1) (options.b.highestPrio == 1000) (options.a.highestPrio == 1500) ];
  })
]
