# A read-only option set twice.
[
  ({ lib, ... }: { options.version = lib.mkOption { type = lib.types.str; readOnly = true; }; })
  { _file = "v1.nix"; version = "1"; }
  { _file = "v2.nix"; version = "1"; }
]
