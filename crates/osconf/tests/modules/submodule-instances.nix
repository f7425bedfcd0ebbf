# Submodule instances: set definitions (one and several per instance), function and
# set definitions mixed, defaults that use `name` and other options' values, a module
# `config` under mkIf, a list of submodules, and a submodule with imports.
[
  ({ lib, ... }: {
    options.users = lib.mkOption {
      type = lib.types.attrsOf (lib.types.submodule ({ name, config, ... }: {
        imports = [ { options.tags = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; }; } ];
        options = {
          name = lib.mkOption { type = lib.types.str; default = name; };
          normal = lib.mkOption { type = lib.types.bool; default = false; };
          home = lib.mkOption { type = lib.types.str; default = "/var/empty"; };
          shell = lib.mkOption { type = lib.types.str; default = "/bin/sh"; };
          groups = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
        };
        config = lib.mkIf config.normal {
          home = lib.mkDefault "/home/${config.name}";
          groups = [ "users" ];
        };
      }));
      default = { };
    };
    options.items = lib.mkOption {
      type = lib.types.listOf (lib.types.submodule {
        options.id = lib.mkOption { type = lib.types.int; };
        options.label = lib.mkOption { type = lib.types.str; default = "none"; };
      });
      default = [ ];
    };
  })
  {
    users.alice = { normal = true; groups = [ "wheel" ]; tags = [ "a" ]; };
    users.bob = { name = "robert"; normal = true; home = "/srv/bob"; };
    users.carol = { ...}: { shell = "/bin/zsh"; tags = [ "c1" ]; };
    items = [ { id = 1; } { id = 2; label = "two"; } ];
  }
  ({ lib, ... }: {
    users.alice = { groups = lib.mkBefore [ "first" ]; tags = [ "a2" ]; };
    users.carol = { normal = true; tags = [ "c2" ]; };
    users.dave = { };
  })
]
