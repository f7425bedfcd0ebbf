# `environment.etc.<name>`: the files of /etc, each a store file (`source`, or `text`
# written with pkgs.writeText) linked or copied to /etc/<target>.
{ config, lib, pkgs, options, ... }:
let
  where = import ../misc/where.nix;
  whereFile = f: where options.environment.etc f.target;
  inherit (lib) mkOption types;
  nullOrLines = types.nullOr types.lines; # made once, not once per file
  etcOpts = { name, config, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; description = "Whether to create this file."; };
      target = mkOption { type = types.str; default = name; description = "The path under /etc."; };
      text = mkOption { type = nullOrLines; default = null; description = "The file's contents."; };
      source = mkOption { type = types.path; description = "The file (or directory) to link to; set from `text' when given."; };
      mode = mkOption {
        type = types.str;
        default = "symlink";
        example = "0600";
        description = "`symlink' links into the store; an octal mode makes a copy with that mode.";
      };
      user = mkOption { type = types.str; default = "root"; description = "Owner of a copied file."; };
      group = mkOption { type = types.str; default = "root"; description = "Group of a copied file."; };
    };
    config.source = lib.mkIf (config.text != null)
      (lib.mkDefault (pkgs.writeText ("etc-" + baseNameOf name) config.text));
  };
  files = builtins.filter (f: f.enable) (lib.attrValues config.environment.etc);
in
{
  options.environment.etc = mkOption {
    type = types.attrsOf (types.submodule etcOpts);
    default = { };
    example = { "motd".text = "Welcome"; };
    description = "Files of /etc, by name.";
  };
  config = {
    assertions = map (f: {
      assertion = f.mode == "symlink" || builtins.match "0?[0-7]{3,4}" f.mode != null;
      message = "environment.etc.\"${f.target}\".mode `${f.mode}' is neither `symlink' nor an octal mode.${whereFile f}";
    }) files ++ map (f: {
      assertion = !(lib.hasPrefix "/" f.target) && builtins.match "(.*/)?\\.\\.?(/.*)?" f.target == null
        && builtins.match ".*[\n].*" f.target == null && f.target != "static" && !(lib.hasPrefix "static/" f.target)
        && !(lib.hasPrefix ".osconf" f.target);
      message = "environment.etc.\"${f.target}\": the target must be a relative path inside /etc (one line, not static/ or .osconf*).${whereFile f}";
    }) files ++ lib.concatMap (f: lib.optionals (f.mode != "symlink") [
      { assertion = config.users.users ? ${f.user}; message = "environment.etc.\"${f.target}\".user `${f.user}' is not declared in users.users.${whereFile f}"; }
      { assertion = config.users.groups ? ${f.group}; message = "environment.etc.\"${f.target}\".group `${f.group}' is not declared in users.groups.${whereFile f}"; }
    ]) files;
    # What activation installs: target -> { source; mode; user; group; }.
    system.build.etc = builtins.listToAttrs (map (f: {
      name = f.target;
      value = { source = "${f.source}"; inherit (f) mode user group; };
    }) files);
  };
}
