# Options whose defaults refer to each other across modules.
[
  ({ config, lib, ... }: {
    options.base = lib.mkOption { type = lib.types.int; default = 10; };
    options.derived = lib.mkOption { type = lib.types.int; default = config.base * 2; };
  })
  ({ config, lib, ... }: {
    options.final = lib.mkOption { type = lib.types.str; default = "derived=${toString config.derived}"; };
  })
  { base = 21; }
]
