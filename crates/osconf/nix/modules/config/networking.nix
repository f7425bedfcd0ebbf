# `networking.hostName`: the system's host name, written to /etc/hostname.
{ config, lib, options, ... }:
let
  where = import ../misc/where.nix;
in
{
  options.networking.hostName = lib.mkOption {
    type = lib.types.str;
    default = "osconf";
    example = "webserver";
    description = "The host name of the system (letters, digits and hyphens).";
  };
  config = {
    assertions = [ {
      assertion = builtins.match "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?" config.networking.hostName != null;
      message = "networking.hostName `${config.networking.hostName}' is not a valid host name (letters, digits and inner hyphens, at most 63).${where options.networking.hostName null}";
    } ];
    environment.etc.hostname.text = config.networking.hostName + "\n";
  };
}
