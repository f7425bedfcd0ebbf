# `services.<name>`: long-running processes the system's init supervises (command,
# environment, user, restart policy, `after`/`wants` dependencies). Concrete services
# (httpd, cron) are entries of the same set that add options of their own and fill in
# `command`. `system.build.services` holds the enabled ones, as init reads them.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  serviceOpts = { name, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; description = "Whether the service runs."; };
      description = mkOption { type = types.str; default = ""; description = "What the service is."; };
      command = mkOption {
        type = types.str;
        example = "/run/current-system/sw/bin/httpd -f -p 8080";
        description = "The program and its arguments (split on spaces, not run through a shell); it must stay in the foreground.";
      };
      environment = mkOption { type = types.attrsOf types.str; default = { }; description = "Environment variables of the process."; };
      user = mkOption { type = types.str; default = "root"; description = "The user the process runs as."; };
      group = mkOption { type = types.str; default = "root"; description = "The group the process runs as."; };
      workingDirectory = mkOption { type = types.nullOr types.str; default = null; description = "The process's working directory (default /)."; };
      restart = mkOption {
        type = types.enum [ "always" "on-failure" "no" ];
        default = "on-failure";
        description = "When init restarts the process after it exits.";
      };
      restartDelay = mkOption { type = types.ints.unsigned; default = 1; description = "Seconds to wait before a restart."; };
      after = mkOption { type = types.listOf types.str; default = [ ]; description = "Services started before this one, when they are enabled."; };
      wants = mkOption { type = types.listOf types.str; default = [ ]; description = "Services that must be enabled and are started with this one."; };
    };
  };
  enabled = lib.filterAttrs (n: s: s.enable) config.services;
in
{
  options.services = mkOption {
    type = types.attrsOf (types.submodule serviceOpts);
    default = { };
    example = { hello = { command = "/run/current-system/sw/bin/hello-server"; restart = "always"; }; };
    description = "Supervised services, by name.";
  };
  config = {
    assertions = lib.concatLists (lib.mapAttrsToList (name: s:
      map (dep: { assertion = enabled ? ${dep}; message = "services.${name}.wants: service `${dep}' is not enabled."; }) s.wants
      ++ [
        { assertion = s.user == "root" || config.users.users ? ${s.user}; message = "services.${name}.user `${s.user}' is not declared in users.users."; }
        { assertion = s.group == "root" || config.users.groups ? ${s.group}; message = "services.${name}.group `${s.group}' is not declared in users.groups."; }
      ]) enabled);
    system.build.services = lib.mapAttrs (name: s: {
      inherit (s) command environment user group workingDirectory restart restartDelay wants;
      after = builtins.filter (dep: enabled ? ${dep}) (s.after ++ s.wants);
    }) enabled;
  };
}
