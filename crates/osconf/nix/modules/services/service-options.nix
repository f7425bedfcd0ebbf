# The options every supervised service has (`services.<name>`, and the concrete services
# such as `services.httpd`, whose types import this module).
{ lib, ... }:
let
  inherit (lib) mkOption types;
in
{
  options = {
    enable = mkOption { type = types.bool; default = true; description = "Whether the service runs."; };
    description = mkOption { type = types.str; default = ""; description = "What the service is."; };
    command = mkOption {
      type = types.str;
      example = "/run/current-system/sw/bin/httpd -f -p 8080";
      description = "The program and its arguments, as a shell command line (quoting as in sh), run with `exec` by the service's run script; it must stay in the foreground.";
    };
    environment = mkOption { type = types.attrsOf types.str; default = { }; description = "Environment variables of the process."; };
    user = mkOption { type = types.str; default = "root"; description = "The user the process runs as."; };
    group = mkOption { type = types.nullOr types.str; default = null; description = "The group the process runs as (null: the user's primary group). Its supplementary groups are the user's (the groups listing it in /etc/group, e.g. its extraGroups)."; };
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
}
