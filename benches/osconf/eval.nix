# What benches/osconf-vs-nixpkgs.sh evaluates: the generated configuration of `n` users
# with osconf's modules under the module system of `lib` (osconf's, or nixpkgs lib's),
# to the JSON of its config (the toplevel derivation left out: that measures derivation
# hashing, not the module system).
{ n, lib ? ../../crates/osconf/nix/lib }:
let
  result = import ../../crates/osconf/nix/eval-config.nix {
    configuration = import ./generated.nix { inherit n; };
    lib = import lib;
  };
  json = result.json;
in
json // { system = json.system // { build = builtins.removeAttrs json.system.build [ "toplevel" ]; }; }
