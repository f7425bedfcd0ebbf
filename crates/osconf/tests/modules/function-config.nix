# Function modules read `config`: defaults and definitions computed from other options.
[
  ({ config, lib, ... }: {
    options.name = lib.mkOption { type = lib.types.str; };
    options.greeting = lib.mkOption { type = lib.types.str; default = "hello ${config.name}"; };
    options.count = lib.mkOption { type = lib.types.int; default = 1; };
    options.copies = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
  })
  { name = "world"; count = 3; }
  ({ config, lib, ... }: { copies = builtins.genList (i: "${config.greeting} ${toString i}") config.count; })
]
