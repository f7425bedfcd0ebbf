# `environment.systemPackages`: the packages of the system's environment (its PATH).
{ lib, ... }:
{
  options.environment.systemPackages = lib.mkOption {
    type = lib.types.listOf lib.types.package;
    default = [ ];
    description = "Packages linked into the system environment (/run/current-system/sw).";
  };
}
