# `services.<name>`: long-running processes the system's init supervises (command,
# environment, user, restart policy, `after`/`wants` dependencies). Concrete services
# (httpd, cron) are entries of the same set that add options of their own and fill in
# `command`. `system.build.services` holds the enabled ones, as init reads them.
# (Only the interface of nixpkgs lib is used, so these modules run under its evalModules too.)
{ config, lib, options, ... }:
let
  where = import ../misc/where.nix;
  whereService = name: where options.services name;
  inherit (lib) mkOption types;
  services = builtins.removeAttrs config.services [ "_module" ];
  enabled = lib.filterAttrs (n: s: s.enable) services;
in
{
  # A set of services by name: concrete services are declared options of it (with the
  # service options and their own), any other name is a generic service (freeformType).
  options.services = mkOption {
    type = types.submodule {
      freeformType = types.attrsOf (types.submodule ./service-options.nix);
    };
    default = { };
    example = { hello = { command = "/run/current-system/sw/bin/hello-server"; restart = "always"; }; };
    description = "Supervised services, by name.";
  };
  config = {
    assertions = lib.concatLists (lib.mapAttrsToList (name: s:
      map (dep: { assertion = enabled ? ${dep}; message = "services.${name}.wants: service `${dep}' is not enabled.${whereService name}"; }) s.wants
      ++ [
        { assertion = s.user == "root" || config.users.users ? ${s.user}; message = "services.${name}.user `${s.user}' is not declared in users.users.${whereService name}"; }
        { assertion = s.group == null || s.group == "root" || config.users.groups ? ${s.group}; message = "services.${name}.group `${s.group}' is not declared in users.groups.${whereService name}"; }
      ]) enabled);
    system.build.services = lib.mapAttrs (name: s: {
      inherit (s) command environment user workingDirectory restart restartDelay wants;
      group = if s.group != null then s.group
        else if s.user == "root" then "root"
        else config.users.users.${s.user}.group or "root";
      after = builtins.filter (dep: enabled ? ${dep}) (s.after ++ s.wants);
    }) enabled;
  };
}
