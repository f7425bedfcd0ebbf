# `services.httpd = { enable; port; documentRoot; }`: an HTTP server (busybox httpd)
# serving a document root, as a supervised service running as its own system user.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkDefault types;
  cfg = config.services.httpd;
in
{
  options.services = mkOption {
    type = types.submodule {
      options.httpd = mkOption {
        type = types.submodule [
          ./service-options.nix
          {
            options = {
              port = mkOption { type = types.port; default = 80; description = "The TCP port to listen on."; };
              documentRoot = mkOption {
                type = types.path;
                default = "/var/www";
                example = "/srv/www";
                description = "The directory served (e.g. a store path made with pkgs.writeTextDir).";
              };
            };
          }
        ];
        default = { };
        description = "The httpd service.";
      };
    };
  };
  config = {
    services.httpd = {
      enable = mkDefault false;
      description = "HTTP server";
      command = "${pkgs.tools}/bin/httpd -f -p ${toString cfg.port} -h ${cfg.documentRoot}";
      user = mkDefault "httpd";
      group = mkDefault "httpd";
      restart = mkDefault "always";
    };
    users = lib.mkIf cfg.enable {
      users.httpd = { isSystemUser = true; group = "httpd"; description = "HTTP server"; };
      groups.httpd = { };
    };
  };
}
