# A wrong type in the one definition of an option, under mkIf and mkDefault.
[
  ({ lib, ... }: { options.name = lib.mkOption { type = lib.types.str; default = "d"; }; })
  ({ lib, ... }: { _file = "name.nix"; name = lib.mkIf true (lib.mkDefault 5); })
]
