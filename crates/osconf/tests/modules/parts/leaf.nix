# The innermost imported module.
{ lib, ... }:
{
  options.leaf = lib.mkOption { type = lib.types.str; default = "leaf"; };
  config.items = [ "from leaf" ];
}
