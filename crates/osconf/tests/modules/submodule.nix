# A submodule option: defaults inside, definitions from two modules.
[
  ({ lib, ... }: {
    options.server = lib.mkOption {
      type = lib.types.submodule {
        options.host = lib.mkOption { type = lib.types.str; default = "localhost"; };
        options.port = lib.mkOption { type = lib.types.int; default = 80; };
        options.tags = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
      };
      default = { };
    };
  })
  { server.port = 8080; server.tags = [ "a" ]; }
  { server = { tags = [ "b" ]; }; }
]
