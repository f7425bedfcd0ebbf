# Submodules inside submodules, with defaults depending on the inner config.
[
  ({ lib, ... }: {
    options.sites = lib.mkOption {
      type = lib.types.attrsOf (lib.types.submodule ({ name, config, ... }: {
        options.root = lib.mkOption { type = lib.types.str; default = "/srv/${name}"; };
        options.locations = lib.mkOption {
          type = lib.types.attrsOf (lib.types.submodule ({ name, ... }: {
            options.path = lib.mkOption { type = lib.types.str; default = name; };
            options.index = lib.mkOption { type = lib.types.str; default = "index.html"; };
          }));
          default = { };
        };
        options.summary = lib.mkOption { type = lib.types.listOf lib.types.str; default = builtins.attrNames config.locations; };
      }));
    };
  })
  { sites.example.locations."/".index = "home.html"; sites.example.locations."/api" = { }; }
  { sites.other = { root = "/var/other"; }; }
]
