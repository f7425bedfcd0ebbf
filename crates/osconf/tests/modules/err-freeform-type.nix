# A freeform definition of the wrong type.
[
  ({ lib, ... }: {
    options.settings = lib.mkOption {
      type = lib.types.submodule { freeformType = lib.types.attrsOf lib.types.int; options.name = lib.mkOption { type = lib.types.str; default = "x"; }; };
      default = { };
    };
  })
  { _file = "settings.nix"; settings.size = "big"; }
]
