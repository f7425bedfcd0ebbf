# Imported by nested-imports.nix: declares an option and imports another file.
{ lib, ... }:
{
  imports = [ ./middle.nix ];
  options.items = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
  config.items = [ "from top" ];
}
