# Scaling copy of ../shared/bench/e-modules.nix (module system): lib.evalModules
# from nixpkgs lib (2022-06-29, 7afdc87c) with 5000 x scale flat options and an
# attrsOf (submodule) with 1000 x scale entries; otherwise identical, so
# `scale = 1` reproduces e-modules exactly. libPath is the absolute path of the
# 2022 nixpkgs `lib` directory (benches/scaling.sh passes it with --argstr).
# Usage: nixkit instantiate --eval --strict --arg scale 4 --argstr libPath /abs/lib modules.nix
{ scale ? 1, libPath }:
let
  lib = import (/. + libPath);
  inherit (lib) mkOption types mkDefault mkForce mkIf mkMerge nameValuePair listToAttrs;
  inherit (builtins) genList filter length attrNames attrValues foldl' concatMap stringLength;
  mod = a: b: a - a / b * b;
  nOpts = 5000 * scale;
  nSvc = 1000 * scale;
  ids = genList (i: i) nOpts;
  name = i: "opt${toString i}";
  kindOf = i: mod i 3;
  value = i: if kindOf i == 0 then i else if kindOf i == 1 then "v${toString i}" else [ (toString i) "x" ];
  declModule = k: {
    options.flat = listToAttrs (map
      (i: nameValuePair (name i) (mkOption {
        type = if kindOf i == 0 then types.int else if kindOf i == 1 then types.str else types.listOf types.str;
        default = if kindOf i == 0 then 0 else if kindOf i == 1 then "" else [ ];
        description = "Synthetic option number ${toString i}.";
      }))
      (filter (i: mod i 10 == k) ids));
  };
  defModule = k: { ... }: {
    config.flat = listToAttrs (map (i: nameValuePair (name i) (mkDefault (value i))) (filter (i: mod i 10 == k) ids));
  };
  overrideModule = { config, ... }: {
    config.flat = mkMerge [
      (listToAttrs (map (i: nameValuePair (name i) (mkForce (i * 2))) (filter (i: kindOf i == 0 && mod i 7 == 0) ids)))
      (mkIf (config.flat.opt3 > 0) (listToAttrs (map (i: nameValuePair (name i) [ "extra" ]) (filter (i: kindOf i == 2 && mod i 5 == 0) ids))))
    ];
  };
  svcModule = {
    options.services = mkOption {
      default = { };
      type = types.attrsOf (types.submodule ({ name, config, ... }: {
        options = {
          enable = mkOption { type = types.bool; default = false; };
          port = mkOption { type = types.port; default = 8000; };
          user = mkOption { type = types.str; default = name; };
          extraArgs = mkOption { type = types.listOf types.str; default = [ ]; };
          settings = mkOption { type = types.attrsOf types.int; default = { }; };
        };
      }));
    };
  };
  svcDefs = k: {
    config.services = listToAttrs (genList
      (j: nameValuePair "svc${toString j}" {
        enable = mkDefault (mod j 2 == 0);
        port = mkDefault (8000 + j);
        extraArgs = [ "--from-${toString k}" ];
        settings."k${toString k}" = j;
      })
      nSvc);
  };
  eval = lib.evalModules {
    modules = genList declModule 10 ++ genList defModule 10 ++ [ overrideModule svcModule ] ++ genList svcDefs 3;
  };
  cfg = eval.config;
  svcs = attrValues cfg.services;
in
{
  flatCount = length (attrNames cfg.flat);
  intSum = foldl' (a: i: if kindOf i == 0 then a + cfg.flat.${name i} else a) 0 ids;
  strLen = foldl' (a: i: if kindOf i == 1 then a + stringLength cfg.flat.${name i} else a) 0 ids;
  listLen = foldl' (a: i: if kindOf i == 2 then a + length cfg.flat.${name i} else a) 0 ids;
  enabled = length (filter (s: s.enable) svcs);
  ports = foldl' (a: s: a + s.port) 0 svcs;
  args = length (concatMap (s: s.extraArgs) svcs);
  settings = foldl' (a: s: a + length (attrNames s.settings)) 0 svcs;
  users = foldl' (a: s: a + stringLength s.user) 0 svcs;
}
