# A wrong type of an option inside a submodule instance given by one set definition.
[
  ({ lib, ... }: {
    options.users = lib.mkOption {
      type = lib.types.attrsOf (lib.types.submodule { options.uid = lib.mkOption { type = lib.types.int; default = 0; }; });
    };
  })
  { _file = "users.nix"; users.alice.uid = "1000"; }
]
