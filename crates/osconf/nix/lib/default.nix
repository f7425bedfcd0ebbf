# osconf's Nix library: the module system (evalModules), options and their
# properties, option types, and the small helpers they use, as one set.
let
  lib = import ./util.nix { inherit lib; }
    // import ./options.nix { inherit lib; }
    // import ./modules.nix { inherit lib; }
    // { types = import ./types.nix { inherit lib; }; };
in
lib
