# `services.cron = { enable; systemCronJobs; }`: a cron daemon (busybox crond) running
# the jobs written to /etc/crontabs/root.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkDefault types;
  cfg = config.services.cron;
in
{
  options.services = mkOption {
    type = types.submodule {
      options.cron = mkOption {
        type = types.submodule [
          ./service-options.nix
          {
            options = {
              systemCronJobs = mkOption {
                type = types.listOf types.str;
                default = [ ];
                example = [ "*/5 * * * * date >> /tmp/cron.log" ];
                description = "Crontab lines (minute hour day month weekday command), run as root.";
              };
            };
          }
        ];
        default = { };
        description = "The cron service.";
      };
    };
  };
  config = {
    services.cron = {
      enable = mkDefault false;
      description = "cron daemon";
      command = "${pkgs.tools}/bin/crond -f -l 8 -L /dev/stderr -c /etc/crontabs";
      restart = mkDefault "always";
    };
    environment.etc."crontabs/root" = lib.mkIf cfg.enable {
      text = lib.concatMapStrings (job: job + "\n") cfg.systemCronJobs;
      mode = "0600";
    };
  };
}
