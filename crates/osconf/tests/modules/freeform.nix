# freeformType: undeclared definitions are values of the freeform type, beside declared options.
[
  ({ lib, ... }: {
    options.services = lib.mkOption {
      type = lib.types.submodule {
        freeformType = lib.types.attrsOf (lib.types.submodule {
          options.command = lib.mkOption { type = lib.types.str; };
          options.restart = lib.mkOption { type = lib.types.str; default = "no"; };
        });
        options.web = lib.mkOption {
          type = lib.types.submodule {
            options.command = lib.mkOption { type = lib.types.str; default = "httpd"; };
            options.port = lib.mkOption { type = lib.types.int; default = 80; };
          };
          default = { };
        };
      };
      default = { };
    };
  })
  { services.ticker.command = "tick"; services.web.port = 8080; }
  { services.ticker.restart = "always"; services.other = { command = "other"; }; }
]
