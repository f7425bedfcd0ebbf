# `time.timeZone`: the system's time zone, written to /etc/timezone and TZ.
{ config, lib, options, ... }:
let
  where = import ../misc/where.nix;
in
{
  options.time.timeZone = lib.mkOption {
    type = lib.types.nullOr lib.types.str;
    default = null;
    example = "Europe/Amsterdam";
    description = "The time zone (a tz database name); null leaves UTC.";
  };
  config = lib.mkIf (config.time.timeZone != null) {
    assertions = [ {
      assertion = builtins.match "[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*" config.time.timeZone != null;
      message = "time.timeZone `${config.time.timeZone}' is not a time zone name.${where options.time.timeZone null}";
    } ];
    environment.etc.timezone.text = config.time.timeZone + "\n";
  };
}
