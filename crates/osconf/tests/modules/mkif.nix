# mkIf on options, conditions read from config.
[
  ({ lib, ... }: {
    options.enable = lib.mkOption { type = lib.types.bool; default = false; };
    options.a = lib.mkOption { type = lib.types.str; default = "off"; };
    options.b = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
  })
  { enable = true; }
  ({ config, lib, ... }: { a = lib.mkIf config.enable "on"; b = lib.mkIf (!config.enable) [ "never" ]; })
  ({ config, lib, ... }: { config = lib.mkIf config.enable { b = [ "enabled" ]; }; })
]
