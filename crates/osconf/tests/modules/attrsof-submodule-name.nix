# attrsOf submodule: each element's modules receive its `name`.
[
  ({ lib, ... }: {
    options.users = lib.mkOption {
      type = lib.types.attrsOf (lib.types.submodule ({ name, config, ... }: {
        options.name = lib.mkOption { type = lib.types.str; default = name; };
        options.home = lib.mkOption { type = lib.types.str; default = "/home/${config.name}"; };
        options.uid = lib.mkOption { type = lib.types.nullOr lib.types.int; default = null; };
      }));
      default = { };
    };
  })
  { users.alice.uid = 1000; }
  { users.bob = { name = "robert"; }; users.alice = { home = "/srv/alice"; }; }
]
