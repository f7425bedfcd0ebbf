# osconf's entry point for building a target's system: the configuration evaluated with
# the package set and the target's id map (the uids and gids allocated so far, when the
# file exists), giving "DRVPATH OUTPATH" of `system.build.toplevel`.
{ configuration, pkgs, idMap }:
let
  previousIds = if builtins.pathExists idMap then builtins.fromJSON (builtins.readFile idMap) else { };
  evaluated = import ./eval-config.nix {
    inherit configuration;
    pkgs = import pkgs { };
    extraModules = [ { users.previousIds = previousIds; } ];
  };
  toplevel = evaluated.config.system.build.toplevel;
in
"${toplevel.drvPath} ${toplevel.outPath}"
