# `fileSystems.<mountpoint>`: file systems to mount, written to /etc/fstab.
{ config, lib, options, ... }:
let
  where = import ../misc/where.nix;
  inherit (lib) mkOption types;
  fsOpts = { name, ... }: {
    options = {
      mountPoint = mkOption { type = types.str; default = name; description = "Where to mount."; };
      device = mkOption { type = types.nullOr types.str; default = null; example = "/dev/sda1"; description = "The device (or pseudo file system) to mount."; };
      label = mkOption { type = types.nullOr types.str; default = null; description = "The file system label, instead of a device."; };
      fsType = mkOption { type = types.str; default = "auto"; example = "ext4"; description = "The file system type."; };
      options = mkOption { type = types.listOf types.str; default = [ "defaults" ]; description = "Mount options."; };
      neededForBoot = mkOption { type = types.bool; default = false; description = "Mounted before activation."; };
    };
  };
  fileSystems = lib.attrValues config.fileSystems;
  source = fs: if fs.device != null then fs.device else "LABEL=${toString fs.label}";
in
{
  options.fileSystems = mkOption {
    type = types.attrsOf (types.submodule fsOpts);
    default = { };
    example = { "/" = { device = "/dev/sda1"; fsType = "ext4"; }; };
    description = "The file systems of the system, by mount point.";
  };
  config = {
    assertions = map (fs: {
      assertion = (fs.device != null) != (fs.label != null);
      message = "fileSystems.\"${fs.mountPoint}\" needs exactly one of device and label.${where options.fileSystems fs.mountPoint}";
    }) fileSystems ++ map (fs: {
      assertion = lib.hasPrefix "/" fs.mountPoint;
      message = "fileSystems.\"${fs.mountPoint}\": the mount point is not an absolute path.${where options.fileSystems fs.mountPoint}";
    }) fileSystems;
    environment.etc.fstab.text = lib.concatMapStrings (fs:
      "${source fs} ${fs.mountPoint} ${fs.fsType} ${builtins.concatStringsSep "," fs.options} 0 ${if fs.mountPoint == "/" then "1" else "2"}\n")
      fileSystems;
  };
}
