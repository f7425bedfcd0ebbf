# `environment.systemPackages`: the packages of the system's environment (its PATH), which
# always include `environment.corePackages` (the tools every system needs: the shell users
# log in with, what cron runs jobs with).
{ config, lib, pkgs, ... }:
{
  options.environment.systemPackages = lib.mkOption {
    type = lib.types.listOf lib.types.package;
    default = [ ];
    description = "Packages linked into the system environment (/run/current-system/sw).";
  };
  options.environment.corePackages = lib.mkOption {
    type = lib.types.listOf lib.types.package;
    default = [ pkgs.tools ];
    defaultText = "[ pkgs.tools ]";
    description = "Packages every system has in its environment: the shell (`/run/current-system/sw/bin/sh`, the users' default login shell) and the basic tools. Set to [ ] for a system without them.";
  };
  # After the declared packages: the first package providing a file wins the link.
  config.environment.systemPackages = lib.mkAfter config.environment.corePackages;
}
