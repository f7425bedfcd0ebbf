# osconf: evaluates a configuration (a module such as configuration.nix) with osconf's
# option modules and `pkgs` (the example package set), fails on a false assertion
# ("Failed assertions: - ..."), prints the warnings, and returns { config; options; json; }
# where `json` is config without the module system's `_module`, derivations as paths.
{ configuration
, pkgs ? import ../../../examples/pkgs { }
, extraModules ? [ ]
, specialArgs ? { }
  # The library whose evalModules runs the modules: osconf's, or for comparison another
  # with the same interface (nixpkgs lib).
, lib ? import ./lib
}:
let
  result = lib.evalModules {
    modules = import ./modules/module-list.nix ++ [ configuration ] ++ extraModules;
    specialArgs = { inherit pkgs; modulesPath = toString ./modules; } // specialArgs;
  };
  isDerivation = v: (v.type or null) == "derivation";
  failed = map (a: a.message) (builtins.filter (a: !a.assertion) result.config.assertions);
  config =
    if failed != [ ] then
      throw "\nFailed assertions:\n${concatMapStrings (m: "- ${m}\n") failed}"
    else
      builtins.foldl' (c: w: builtins.trace "warning: ${w}" c) result.config result.config.warnings;
  toJSONable = v:
    if builtins.isAttrs v then
      (if (v.type or null) == "derivation" then v.outPath
       else builtins.mapAttrs (n: toJSONable) (if v ? _module then builtins.removeAttrs v [ "_module" ] else v))
    else if builtins.isList v then map toJSONable v
    else if builtins.isFunction v then null
    else v;
  concatMapStrings = f: list: builtins.concatStringsSep "" (map f list);
in
{
  inherit config lib;
  inherit (result) options;
  json = toJSONable (builtins.removeAttrs config [ "assertions" "warnings" ]);
}
