# `system.build`: what the configuration produces (users database, services, later the
# toplevel derivation), set by the modules that compute it.
{ lib, ... }:
{
  options.system.build = lib.mkOption {
    type = lib.types.lazyAttrsOf lib.types.raw;
    default = { };
    description = "Derived artefacts of the system, each set by the module computing it.";
  };
}
