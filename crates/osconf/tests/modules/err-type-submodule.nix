# A wrong type deep inside an attrsOf submodule: the full option name is reported.
[
  ({ lib, ... }: {
    options.users = lib.mkOption {
      type = lib.types.attrsOf (lib.types.submodule { options.uid = lib.mkOption { type = lib.types.int; }; });
    };
  })
  { _file = "users.nix"; users.alice.uid = "one thousand"; }
]
