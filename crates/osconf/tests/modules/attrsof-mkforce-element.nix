# Priorities inside attrsOf submodule elements.
[
  ({ lib, ... }: {
    options.svcs = lib.mkOption {
      type = lib.types.attrsOf (lib.types.submodule {
        options.restart = lib.mkOption { type = lib.types.str; default = "no"; };
        options.after = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
      });
    };
  })
  ({ lib, ... }: { svcs.web = { restart = lib.mkDefault "always"; after = [ "net" ]; }; })
  ({ lib, ... }: { svcs.web = { restart = lib.mkForce "on-failure"; after = lib.mkBefore [ "fs" ]; }; svcs.db = { }; })
]
