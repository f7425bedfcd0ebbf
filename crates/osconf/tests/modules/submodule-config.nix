# A submodule with a config section of its own, reading its options.
[
  ({ lib, ... }: {
    options.svc = lib.mkOption {
      type = lib.types.submodule ({ config, ... }: {
        options.port = lib.mkOption { type = lib.types.int; default = 80; };
        options.url = lib.mkOption { type = lib.types.str; };
        options.extra = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
        config.url = "http://localhost:${toString config.port}/";
        config.extra = [ "built-in" ];
      });
      default = { };
    };
  })
  { svc.port = 8080; svc.extra = [ "user" ]; }
]
