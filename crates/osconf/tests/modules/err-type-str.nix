# An int given to a string option.
[
  ({ lib, ... }: { options.name = lib.mkOption { type = lib.types.str; }; })
  { _file = "config.nix"; name = 42; }
]
