# The sample configuration of tests/config.rs: a web server with two people, cron, files.
{ config, lib, pkgs, ... }:
{
  networking.hostName = "webhost";
  time.timeZone = "Europe/Amsterdam";

  fileSystems."/" = { device = "/dev/vda1"; fsType = "ext4"; };
  fileSystems."/srv" = { label = "data"; fsType = "xfs"; options = [ "noatime" ]; };

  users.users.alice = { isNormalUser = true; extraGroups = [ "wheel" "web" ]; description = "Alice"; };
  users.users.bob = { isNormalUser = true; shell = "/bin/ash"; hashedPassword = "$6$salt$hash"; };
  users.users.deploy = { isSystemUser = true; group = "web"; home = "/var/lib/deploy"; createHome = true; };
  users.groups.web.members = [ "bob" ];
  # Allocated by an earlier generation: bob keeps 1003, carol (deleted) keeps 1000 reserved.
  users.previousIds.uids = { bob = 1003; carol = 1000; };

  environment.systemPackages = [ pkgs.hello pkgs.greeter ];
  environment.etc."motd".text = lib.mkMerge [ "Welcome to ${config.networking.hostName}." (lib.mkAfter "Be nice.") ];
  environment.etc."app/settings.conf" = { text = "debug = false"; mode = "0640"; group = "web"; };

  services.httpd = {
    enable = true;
    port = 8080;
    documentRoot = pkgs.writeTextDir "index.html" "<h1>hello from webhost</h1>";
  };
  services.cron = { enable = true; systemCronJobs = [ "*/5 * * * * date" ]; };
  services.ticker = {
    command = "${pkgs.tools}/bin/sh -c 'while sleep 60; do date; done'";
    environment.TZ = config.time.timeZone;
    user = "deploy";
    group = "web";
    restart = "always";
    after = [ "httpd" "not-there" ];
    wants = [ "cron" ];
  };
}
